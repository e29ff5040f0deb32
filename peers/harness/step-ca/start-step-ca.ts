// Runs smallstep's step-ca on 127.0.0.1 from a home written by writeStepCaConfig, for the custom-CA
// demo and the step-ca tests: start, wait until healthy, stop, restart on the same port and database.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { unavailable } from '../../../src/index.js';
import { freePort } from '../free-port.js';
import { ensurePeerBinary, peerMissingReason } from '../peer-binary.js';
import { waitStepCaHealthy } from './wait-step-ca-healthy.js';
import {
  type StartedProvisioner,
  type WriteStepCaConfigOptions,
  writeStepCaConfig,
} from './write-step-ca-config.js';

export interface StartStepCaOptions extends Omit<WriteStepCaConfigOptions, 'port'> {
  /** 0 or absent picks a free port; restarts keep it. */
  port?: number;
  /** How long to wait for /health after each start; default 30 s. */
  healthTimeoutMs?: number;
}

export interface RunningStepCa {
  /** `https://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** The root step-ca's TLS certificate and every leaf chain up to: a StepClusterIssuer's `caBundle`. */
  rootPem: string;
  provisioners: StartedProvisioner[];
  /** The directory holding ca.json, the certificates and the database. */
  dir: string;
  configFile: string;
  /** step-ca's stdout and stderr, appended across restarts. */
  logFile: string;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s); safe to call twice. */
  stop(): Promise<void>;
  /** Stops it if running and starts it again on the same port, config and database. */
  restart(): Promise<void>;
}

const STOP_GRACE_MS = 10_000;

const running = new Set<ChildProcess>();
const killRunning = () => {
  for (const child of running) child.kill('SIGKILL');
};

// A last resort for a caller that forgot stop(): no step-ca outlives the process that started it.
// The exit handler is there only while a step-ca runs, so importing this module registers nothing.
function killAtExit(proc: ChildProcess): void {
  if (running.size === 0) process.on('exit', killRunning);
  running.add(proc);
}

function forget(proc: ChildProcess): void {
  if (running.delete(proc) && running.size === 0) process.off('exit', killRunning);
}

/**
 * Writes the CA's files and ca.json into `opts.dir`, starts step-ca (built on first use), and resolves
 * once `/health` answers over TLS trusted by the root. Rejects with DEMO_STEP_CA_MISSING when step-ca
 * cannot be built on this machine, DEMO_STEP_CA_UNHEALTHY when it does not come up.
 */
export async function startStepCa(opts: StartStepCaOptions): Promise<RunningStepCa> {
  const bin = ensurePeerBinary('step-ca');
  if (!bin) {
    throw unavailable(
      'DEMO_STEP_CA_MISSING',
      `${peerMissingReason('step-ca')}; install Go 1.26 or newer, then try again (node peers/build.mjs step-ca)`,
    );
  }
  const port = opts.port || (await freePort());
  const config = await writeStepCaConfig({ ...opts, port });
  const logFile = join(config.dir, 'step-ca.log');

  let child: ChildProcess | undefined;
  const start = async () => {
    const log = openSync(logFile, 'a');
    let proc: ChildProcess;
    try {
      // STEPPATH keeps step-ca away from the user's ~/.step; the rest of the environment passes through.
      proc = spawn(bin, [config.configFile], {
        stdio: ['ignore', log, log],
        env: { ...process.env, STEPPATH: join(config.dir, 'steppath') },
      });
    } finally {
      closeSync(log);
    }
    killAtExit(proc);
    proc.once('exit', () => forget(proc));
    proc.on('error', () => forget(proc));
    child = proc;
    await waitStepCaHealthy({
      url: config.url,
      rootPem: config.rootPem,
      child: proc,
      logFile,
      timeoutMs: opts.healthTimeoutMs,
    });
  };
  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null || !running.has(proc)) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    url: config.url,
    port: config.port,
    rootPem: config.rootPem,
    provisioners: config.provisioners,
    dir: config.dir,
    configFile: config.configFile,
    logFile,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
  };
}
