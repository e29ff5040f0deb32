// The `meshca` command: dispatches to one file per command, prints expected errors as one
// message (never a stack trace) and turns them into exit codes.
import { readFileSync } from 'node:fs';
import { type ErrorKind, isMeshcaError } from '../errors.js';
import { runAgent } from './agent.js';
import { runCerts } from './certs.js';
import { type CliContext, processContext } from './context.js';
import { runCsr } from './csr.js';
import { runDemo } from './demo.js';
import { fileErrorToMeshcaError, isFileError } from './file-errors.js';
import { runLog } from './log.js';
import { runRootCert } from './root-cert.js';
import { runRotate } from './rotate.js';
import { runSample } from './sample.js';
import { runServe } from './serve.js';
import { runSidecar } from './sidecar.js';
import { runToken } from './token.js';

type Command = (argv: string[], ctx: CliContext) => Promise<number>;

const COMMANDS: Record<string, { run: Command; summary: string }> = {
  serve: { run: runServe, summary: 'run the CA server (self-signed, or --cacerts DIR)' },
  certs: { run: runCerts, summary: 'make / inspect / verify an offline root and per-cluster intermediates' },
  token: { run: runToken, summary: 'print a service-account token from the embedded issuer' },
  'root-cert': { run: runRootCert, summary: 'print the trust bundle workloads need' },
  rotate: {
    run: runRotate,
    summary: 'change the root of trust of a running CA in steps: prepare, status, activate, finish',
  },
  log: {
    run: runLog,
    summary: 'verify the issuance log, print its checkpoint, list and show what was issued',
  },
  csr: { run: runCsr, summary: 'get one workload certificate from a running CA' },
  agent: { run: runAgent, summary: "keep a workload's certificate files fresh (Istio's pilot-agent)" },
  sidecar: { run: runSidecar, summary: 'agent + mutual-TLS proxy for a workload (like istio-proxy)' },
  sample: { run: runSample, summary: "Istio's sample apps: httpbin, sleep" },
  demo: {
    run: runDemo,
    summary: "Istio's tasks end to end on this machine: plug-in-ca (default), custom-ca",
  },
};

/** Extra commands registered by later layers (agent, sidecar, demo, …). */
export function registerCommand(name: string, run: Command, summary: string): void {
  COMMANDS[name] = { run, summary };
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'meshca — a certificate authority for service meshes, compatible with Istio',
    '',
    'Usage: meshca <command> [options]      (meshca <command> --help for details)',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
  ].join('\n');
}

/** Exit codes: 0 ok, 1 the operation failed, 2 bad usage or input, 3 bad configuration, 70 a bug. */
export function exitCodeFor(kind: ErrorKind): number {
  switch (kind) {
    case 'invalid-input':
      return 2;
    case 'config':
      return 3;
    case 'internal':
      return 70;
    case 'unauthenticated':
    case 'permission-denied':
    case 'ca-unusable':
    case 'unavailable':
      return 1;
    default: {
      // A new kind must be given its exit code here: this stops compiling until it is.
      const unreachable: never = kind;
      void unreachable;
      return 1;
    }
  }
}

export async function main(argv: string[], ctx: CliContext = processContext()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    ctx.out(usage());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === 'version') {
    ctx.out(`meshca ${version()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    ctx.err(`meshca: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest, ctx);
  } catch (err) {
    const known = isMeshcaError(err) ? err : isFileError(err) ? fileErrorToMeshcaError(err) : undefined;
    if (known) {
      ctx.err(`meshca ${name}: ${known.message}\n`);
      return exitCodeFor(known.kind);
    }
    ctx.err(
      `meshca ${name}: unexpected failure (a bug; please report it): ${(err as Error)?.stack ?? err}\n`,
    );
    return 70;
  }
}
