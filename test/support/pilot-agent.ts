// Istio's real agent (pilot-agent from the peers harness) as a test's workload: started in its own
// working directory with Istio's variables, its JSON log collected, stopped by PID at the end.
import { spawn } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../peers/harness/free-port.js';
import {
  PILOT_AGENT_ARGS,
  PILOT_AGENT_TOKEN,
  type PilotAgentSpec,
  pilotAgentEnv,
  writePilotAgentFiles,
} from '../../peers/harness/pilot-agent.js';
import { writeFileAtomic } from '../../src/lib/atomic-file.js';
import { killAfterTests } from './kill-after-tests.js';
import { pemBlocks } from './mesh-workloads.js';
import { peerBinary } from './peers.js';
import { waitFor } from './wait-for.js';

type LogLine = Record<string, unknown>;

export type StartPilotAgentOptions = Omit<PilotAgentSpec, 'workDir' | 'outputDir' | 'statusPort'> & {
  /** Parent of the agent's working directory (default: a new temporary directory, removed by stop()). */
  dir?: string;
  /**
   * Host names the agent resolves to 127.0.0.1, so CA_ADDR can name the CA as a cluster would: the
   * agent runs in its own mount namespace (`unshare --mount`) with a private /etc/hosts bound over
   * the real one. Nothing changes for any other process.
   */
  hosts?: string[];
};

export interface IssuedFiles {
  chainPem: string;
  keyPem: string;
  rootsPem: string;
  /** The certificates of cert-chain.pem, leaf first. */
  chain: X509Certificate[];
  leaf: X509Certificate;
}

export interface RunningPilotAgent {
  readonly pid: number;
  readonly workDir: string;
  readonly outputDir: string;
  readonly statusPort: number;
  readonly logs: readonly LogLine[];
  /** Everything it printed, for assertion messages. */
  output(): string;
  /** Resolves with the first log line matching `predicate` (already seen or still to come). */
  waitForLog(predicate: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** Resolves once cert-chain.pem, key.pem and root-cert.pem exist and the key belongs to the leaf. */
  waitForFiles(timeoutMs?: number): Promise<IssuedFiles>;
  /** The files as they are now, or undefined while incomplete. */
  readFiles(): Promise<IssuedFiles | undefined>;
  /** Replaces the token file (the agent reads it before each request). */
  writeToken(token: string): Promise<void>;
  /** SIGTERM, then SIGKILL after 10 s; removes the working directory if this helper made it. */
  stop(): Promise<void>;
}

/** The agent's output without its start-up list of flags, for failure messages. */
function withoutFlags(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.includes('"msg":"FLAG: '))
    .join('\n');
}

/** Starts `pilot-agent proxy sidecar` without Envoy, its certificates going to `<workDir>/certs`. */
export async function startPilotAgent(opts: StartPilotAgentOptions): Promise<RunningPilotAgent> {
  const bin = peerBinary('pilot-agent');
  const owned = opts.dir === undefined;
  const workDir = await mkdtemp(join(opts.dir ?? tmpdir(), `pilot-agent-${opts.serviceAccount}-`));
  const spec: PilotAgentSpec = {
    ...opts,
    workDir,
    outputDir: join(workDir, 'certs'),
    statusPort: await freePort(),
  };
  await writePilotAgentFiles(spec);
  let file = bin;
  let args: readonly string[] = PILOT_AGENT_ARGS;
  if (opts.hosts?.length) {
    const hostsFile = join(workDir, 'hosts');
    await writeFile(hostsFile, `127.0.0.1 localhost ${opts.hosts.join(' ')}\n::1 localhost\n`);
    // unshare and sh each exec the next program, so the PID stays the agent's.
    file = 'unshare';
    args = ['--mount', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hostsFile, bin, ...args];
  }
  const child = spawn(file, args, {
    cwd: workDir,
    env: pilotAgentEnv(spec),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killAfterTests(child);
  const exited = new Promise<void>((resolve) =>
    child.on('exit', () => {
      resolve();
    }),
  );
  const logs: LogLine[] = [];
  let text = '';
  const onData = () => {
    let pending = '';
    return (chunk: string) => {
      text += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        try {
          logs.push(JSON.parse(line) as LogLine);
        } catch {
          // kept in text
        }
      }
    };
  };
  child.stdout!.setEncoding('utf8').on('data', onData());
  child.stderr!.setEncoding('utf8').on('data', onData());

  const readFiles = async (): Promise<IssuedFiles | undefined> => {
    try {
      const [chainPem, keyPem, rootsPem] = await Promise.all(
        ['cert-chain.pem', 'key.pem', 'root-cert.pem'].map((f) => readFile(join(spec.outputDir, f), 'utf8')),
      );
      const chain = pemBlocks(chainPem!).map((pem) => new X509Certificate(pem));
      const leaf = chain[0];
      // The agent writes the three files one by one: a key from another round is not a set yet.
      if (!leaf || !rootsPem || !leaf.checkPrivateKey(createPrivateKey(keyPem!))) return undefined;
      return { chainPem: chainPem!, keyPem: keyPem!, rootsPem: rootsPem!, chain, leaf };
    } catch {
      return undefined;
    }
  };

  const agent: RunningPilotAgent = {
    pid: child.pid!,
    workDir,
    outputDir: spec.outputDir,
    statusPort: spec.statusPort,
    logs,
    output: () => text,
    waitForLog: (predicate, what, timeoutMs = 30_000) =>
      waitFor(
        `pilot-agent to log ${what}`,
        () => {
          if (child.exitCode !== null) throw new Error(`pilot-agent exited ${child.exitCode}:\n${text}`);
          return logs.find(predicate);
        },
        timeoutMs,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; its output:\n${withoutFlags(text).slice(-6000)}`);
      }),
    waitForFiles: (timeoutMs = 30_000) =>
      waitFor(
        `pilot-agent's certificate files in ${spec.outputDir}`,
        async () => {
          if (child.exitCode !== null) throw new Error(`pilot-agent exited ${child.exitCode}:\n${text}`);
          return readFiles();
        },
        timeoutMs,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; its output:\n${withoutFlags(text).slice(-6000)}`);
      }),
    readFiles,
    writeToken: (token) => writeFileAtomic(join(workDir, PILOT_AGENT_TOKEN), token, 0o600),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      if (owned) await rm(workDir, { recursive: true, force: true });
    },
  };
  return agent;
}
