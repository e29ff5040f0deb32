// Shared setup for the agent tests: a workspace with the CA roots and a token on disk, a logger
// whose lines tests can wait for, and the agent's /metrics read over HTTP.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Agent, AgentOptions } from '../../src/agent/agent.js';
import { createLogger, type Logger } from '../../src/log.js';
import type { CaServerFixture } from '../support/ca-server-fixture.js';
import { metricValue } from '../support/mesh-workloads.js';
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

/** The value of `name` (its one series: unlabelled, or request_type="csr") on a /metrics page; it must be there. */
export function metric(page: string, name: string): number {
  const value = metricValue(page, name);
  assert.ok(value !== undefined, `${name} is on the metrics page:\n${page}`);
  return value;
}

export async function healthz(agent: Agent): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${agent.statusPort}/healthz`);
  return { status: res.status, text: await res.text() };
}
