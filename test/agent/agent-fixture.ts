// Shared setup for the agent tests: a workspace with the CA roots and a token on disk, a logger
// whose lines tests can wait for, polling with deadlines, and the agent's /metrics read over HTTP.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Agent, AgentOptions } from '../../src/agent/agent.js';
import { createLogger, type Logger } from '../../src/log.js';
import type { CaServerFixture } from '../support/ca-server-fixture.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

export type LogLine = Record<string, unknown>;

export interface CapturedLog {
  lines: LogLine[];
  logger: Logger;
}

export function captureLog(): CapturedLog {
  const lines: LogLine[] = [];
  return {
    lines,
    logger: createLogger({ level: 'debug', write: (l) => lines.push(JSON.parse(l) as LogLine) }),
  };
}

export { waitFor } from '../support/wait-for.js';

export interface Workspace {
  tmp: TempDir;
  rootsFile: string;
  tokenFile: string;
  outputDir: string;
  /** Agent options for this workspace and CA; tests add or override the rest. */
  options(ca: CaServerFixture, log: Logger): AgentOptions;
  read(file: 'cert-chain.pem' | 'key.pem' | 'root-cert.pem'): string;
}

export async function makeWorkspace(
  ca: CaServerFixture,
  token?: string,
  rootsPem: string = ca.rootsPem(),
): Promise<Workspace> {
  const tmp = makeTempDir('meshca-agent-');
  const rootsFile = tmp.write('ca-roots.pem', rootsPem);
  const tokenFile = tmp.write('istio-token', token ?? (await ca.token('foo', 'sleep')));
  const outputDir = tmp.file('certs');
  return {
    tmp,
    rootsFile,
    tokenFile,
    outputDir,
    options: (server, logger) => ({
      caAddress: server.address,
      caRootsFile: rootsFile,
      tokenFile,
      trustDomain: 'cluster.local',
      keyType: 'ec-p256',
      outputDir,
      log: logger,
    }),
    read: (file) => readFileSync(join(outputDir, file), 'utf8'),
  };
}

/** The agent's /metrics page, fetched from its status port. */
export async function scrape(agent: Agent): Promise<string> {
  assert.ok(agent.statusPort, 'the status port is on');
  const res = await fetch(`http://127.0.0.1:${agent.statusPort}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** The value of `name{request_type="csr"}` (or of an unlabelled `name`) on a /metrics page. */
export function metric(page: string, name: string): number {
  const line = page
    .split('\n')
    .find((l) => l.startsWith(`${name}{request_type="csr"} `) || l.startsWith(`${name} `));
  assert.ok(line, `${name} is on the metrics page:\n${page}`);
  return Number(line.split(' ').at(-1));
}

export async function healthz(agent: Agent): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${agent.statusPort}/healthz`);
  return { status: res.status, text: await res.text() };
}

/** Splits a PEM bundle into its certificates, each with its trailing newline. */
export function pemBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}
