// meshca's refusals as Istio's real agent sees them: a token for another identity, an expired token, no
// token. Nothing is written, the agent keeps retrying, and meshca logs the reason; a good token later
// is picked up without restarting the agent.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadOrCreateTokenIssuer } from '../../src/identity/token-issuer.js';
import { runMeshcaOk, type ServeProcess, startServe } from '../support/meshca-process.js';
import {
  type RunningPilotAgent,
  type StartPilotAgentOptions,
  startPilotAgent,
} from '../support/pilot-agent.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { token } from './fixture.js';

type LogLine = Record<string, unknown>;

const isFailure = (l: LogLine) =>
  l.msg === 'failed to get certificate' || /^failed to get certificate/.test(String(l.msg));

describe('refusals as pilot-agent sees them', { timeout: 120_000 }, () => {
  let dir: TempDir;
  let ca: ServeProcess;
  let rootPem: string;
  const agents: RunningPilotAgent[] = [];
  before(async () => {
    dir = makeTempDir('meshca-istio-agent-refusals-');
    ca = await startServe(['--data-dir', join(dir.path, 'data')]);
    rootPem = (await runMeshcaOk(['root-cert', '--data-dir', join(dir.path, 'data')])).stdout;
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await ca?.stop();
    await dir?.remove();
  });

  /** An agent for foo/httpbin whose requests meshca logs under `clusterId`. */
  async function agent(
    clusterId: string,
    tokenText: string | undefined,
    extra: Partial<StartPilotAgentOptions> = {},
  ) {
    const a = await startPilotAgent({
      dir: dir.path,
      caAddress: `127.0.0.1:${ca.grpcPort}`,
      caRootPem: rootPem,
      token: tokenText,
      namespace: 'foo',
      serviceAccount: 'httpbin',
      clusterId,
      ...extra,
    });
    agents.push(a);
    return a;
  }

  /** The agent has failed at least twice (so it retries), and has written nothing. */
  async function assertRetryingAndNothingWritten(a: RunningPilotAgent, status: RegExp): Promise<void> {
    await a.waitForLog(
      (l) => isFailure(l) && a.logs.filter(isFailure).length >= 2,
      'a second failed attempt',
    );
    for (const line of a.logs.filter(isFailure)) assert.match(String(line.msg), status);
    assert.deepEqual(await readdir(a.outputDir), [], 'no certificate file is written');
  }

  test('a token for another service account: PERMISSION_DENIED naming both identities, nothing written', async () => {
    const a = await agent('wrong-identity', await token(join(dir.path, 'data'), 'foo', 'sleep'));
    await assertRetryingAndNothingWritten(a, /code = PermissionDenied/);
    const refused = await ca.waitForLog((l) => l.clusterId === 'wrong-identity' && l.outcome === 'refused');
    assert.equal(refused.caller, 'foo/sleep');
    assert.match(String(refused.reason), /spiffe:\/\/cluster\.local\/ns\/foo\/sa\/httpbin/);
    assert.match(String(refused.reason), /foo\/sleep|spiffe:\/\/cluster\.local\/ns\/foo\/sa\/sleep/);
  });

  test('an expired token: UNAUTHENTICATED, the reason (expired) only in meshca log, nothing written', async () => {
    const issuer = await loadOrCreateTokenIssuer(join(dir.path, 'data', 'issuer'));
    const expired = await issuer.mint({
      namespace: 'foo',
      serviceAccount: 'httpbin',
      ttlSeconds: 600,
      now: new Date(Date.now() - 3_600_000),
    });
    const a = await agent('old-token', expired);
    await assertRetryingAndNothingWritten(a, /code = Unauthenticated desc = request authenticate failure/);
    const failed = await ca.waitForLog((l) => l.clusterId === 'old-token' && l.outcome === 'unauthenticated');
    assert.match(String(failed.reason), /expired/i);
    assert.doesNotMatch(a.output(), /expired/i, 'the caller learns nothing about why');
  });

  test('no token file: UNAUTHENTICATED, retried; a token written later is used without a restart', async () => {
    const a = await agent('no-token', undefined);
    await assertRetryingAndNothingWritten(a, /code = Unauthenticated/);
    assert.ok(a.logs.some((l) => /failed to fetch token from file/.test(String(l.msg))));
    const failed = await ca.waitForLog((l) => l.clusterId === 'no-token' && l.outcome === 'unauthenticated');
    assert.equal(failed.code, 'SERVER_NO_CREDENTIALS');

    await a.writeToken(await token(join(dir.path, 'data'), 'foo', 'httpbin'));
    const files = await a.waitForFiles(60_000);
    assert.match(files.leaf.subjectAltName ?? '', /URI:spiffe:\/\/cluster\.local\/ns\/foo\/sa\/httpbin/);
  });
});
