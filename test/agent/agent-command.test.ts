// `meshca agent` as a command, run in process with a CliContext: --once, flags beating Istio's
// environment variables, every settings problem at once, and the long-running mode until SIGTERM.
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CaCallError } from '../../src/agent/ca-client.js';
import { runAgent } from '../../src/cli/agent.js';
import type { CliContext } from '../../src/cli/context.js';
import { isMeshcaError } from '../../src/errors.js';
import { type CaServerFixture, startFixtureServer } from '../support/ca-server-fixture.js';
import { pemBlocks } from '../support/mesh-workloads.js';
import { opensslOk, opensslVerify } from '../support/openssl.js';
import { waitFor } from '../support/wait-for.js';
import { makeWorkspace, type Workspace } from './agent-fixture.js';

function fakeContext(cwd: string, env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CliContext = { out: (t) => out.push(t), err: (t) => err.push(t), env, cwd };
  return {
    ctx,
    out,
    err,
    logs: () =>
      err
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
  };
}

describe('meshca agent (command)', () => {
  let ca: CaServerFixture;
  let ws: Workspace;
  before(async () => {
    ca = await startFixtureServer();
    ws = await makeWorkspace(ca);
  });
  after(async () => {
    await ca.close();
    ws.tmp.remove();
  });

  test('--once fetches, writes the files and exits 0', async () => {
    const { ctx, out } = fakeContext(ws.tmp.path);
    const code = await runAgent(
      [
        '--once',
        '--ca-addr',
        ca.address,
        '--ca-root',
        'ca-roots.pem',
        '--token-file',
        'istio-token',
        '--output-dir',
        'once',
      ],
      ctx,
    );
    assert.equal(code, 0);
    const dir = join(ws.tmp.path, 'once');
    const printed = out.join('');
    assert.match(
      printed,
      /^spiffe:\/\/cluster\.local\/ns\/foo\/sa\/sleep serial [0-9A-F]+, valid until \S+Z\n/,
    );
    assert.ok(printed.includes(`${dir}/cert-chain.pem\n`));
    assert.equal(statSync(join(dir, 'key.pem')).mode & 0o777, 0o600);
    const chain = pemBlocks(ws.tmp.read('once/cert-chain.pem'));
    const verdict = await opensslVerify(ws.tmp, {
      roots: [ws.tmp.read('once/root-cert.pem')],
      intermediates: chain.slice(1, -1),
      leaf: chain[0]!,
    });
    assert.ok(verdict.ok, verdict.output);
  });

  test("Istio's environment variables are read, and flags beat them", async () => {
    const { ctx } = fakeContext(ws.tmp.path, {
      CA_ADDR: ca.address,
      OUTPUT_CERTS: 'from-env',
      SECRET_TTL: '2h',
      ECC_SIGNATURE_ALGORITHM: 'ECDSA',
      ECC_CURVE: 'P384',
      TRUST_DOMAIN: 'cluster.local',
    });
    assert.equal(
      await runAgent(['--once', '--ca-root', 'ca-roots.pem', '--token-file', 'istio-token'], ctx),
      0,
    );
    const leaf = pemBlocks(ws.tmp.read('from-env/cert-chain.pem'))[0]!;
    assert.match(
      await opensslOk(['x509', '-noout', '-text'], { input: leaf }),
      /NIST CURVE: P-384|secp384r1/,
    );
    const dates = await opensslOk(['x509', '-noout', '-startdate', '-enddate'], { input: leaf });
    const [start, end] = dates.split('\n').map((l) => Date.parse(l.split('=')[1]!));
    assert.equal(
      (end! - start!) / 1000,
      2 * 3600 + 120,
      'SECRET_TTL=2h asked for (plus the 2-minute backdate)',
    );

    assert.equal(
      await runAgent(
        [
          '--once',
          '--ca-root',
          'ca-roots.pem',
          '--token-file',
          'istio-token',
          '--output-dir',
          'from-flag',
          '--key-type',
          'rsa-2048',
          '--ttl',
          '1h',
        ],
        ctx,
      ),
      0,
    );
    assert.ok(existsSync(join(ws.tmp.path, 'from-flag', 'key.pem')));
    const flagLeaf = pemBlocks(ws.tmp.read('from-flag/cert-chain.pem'))[0]!;
    assert.match(
      await opensslOk(['x509', '-noout', '-text'], { input: flagLeaf }),
      /Public-Key: \(2048 bit\)/,
    );
  });

  test("--once fails with the CA's reason when the CA refuses", async () => {
    ws.tmp.write(
      'expired-token',
      await ca.token('foo', 'sleep', { ttlSeconds: 60, now: new Date(Date.now() - 3600_000) }),
    );
    const { ctx } = fakeContext(ws.tmp.path);
    await assert.rejects(
      runAgent(
        [
          '--once',
          '--ca-addr',
          ca.address,
          '--ca-root',
          'ca-roots.pem',
          '--token-file',
          'expired-token',
          '--output-dir',
          'refused',
        ],
        ctx,
      ),
      (err: unknown) => {
        assert.ok(err instanceof CaCallError);
        assert.equal(err.code, 'CA_CALL_UNAUTHENTICATED');
        assert.equal(err.message, 'the CA answered UNAUTHENTICATED: request authenticate failure');
        return true;
      },
    );
    assert.equal(existsSync(join(ws.tmp.path, 'refused', 'key.pem')), false);
  });

  test('every settings problem is reported at once', async () => {
    const { ctx } = fakeContext(ws.tmp.path, {
      ECC_SIGNATURE_ALGORITHM: 'DSA',
      SECRET_GRACE_PERIOD_RATIO: '2',
    });
    await assert.rejects(
      runAgent(['--ca-root', 'missing.pem', '--ttl', 'forever', '--status-port', 'nope'], ctx),
      (err: unknown) => {
        assert.ok(isMeshcaError(err));
        assert.equal(err.code, 'CLI_BAD_SETTINGS');
        const problems = [
          `--ca-root ${join(ws.tmp.path, 'missing.pem')} does not exist; get the roots with "meshca root-cert > FILE"`,
          `--token-file ${join(ws.tmp.path, 'var/run/secrets/tokens/istio-token')} does not exist; write a token with "meshca token -n NS --service-account SA > FILE"`,
          'ECC_SIGNATURE_ALGORITHM=DSA: use ECDSA or RSA (or --key-type)',
          '--ttl: "forever" is not a duration; write e.g. 24h, 90m, 1h30m, 30s or 7d',
          'SECRET_GRACE_PERIOD_RATIO "2" must be a number between 0 and 1 (0.5 renews at half the lifetime)',
          '--output-dir (or OUTPUT_CERTS) is required: where to write the certificate files',
          '--status-port: "nope" is not host:port (e.g. 127.0.0.1:15012)',
        ];
        assert.equal(
          err.message,
          `${problems.length} problems:\n  - ${problems.join('\n  - ')}\n(see "meshca agent --help")`,
        );
        return true;
      },
    );
  });

  test('without --once it keeps the files fresh, serves /healthz, and returns 0 on SIGTERM', async () => {
    const { ctx, logs } = fakeContext(ws.tmp.path);
    const before = new Set(process.listeners('SIGTERM'));
    const running = runAgent(
      [
        '--ca-addr',
        ca.address,
        '--ca-root',
        'ca-roots.pem',
        '--token-file',
        'istio-token',
        '--output-dir',
        'daemon',
        '--status-port',
        '0',
      ],
      ctx,
    );
    const started = await waitFor('the agent to start', () =>
      logs().find((l) => l.msg === 'meshca agent running'),
    );
    await waitFor('the files', () => existsSync(join(ws.tmp.path, 'daemon', 'cert-chain.pem')));
    const health = await waitFor('a healthy status', async () => {
      const res = await fetch(`http://${started.status}/healthz`);
      return res.status === 200 && res.text();
    });
    assert.match(health, /^ok: spiffe:\/\/cluster\.local\/ns\/foo\/sa\/sleep serial /);
    // Our own handler only: emitting the signal would also reach the test runner's.
    const mine = process.listeners('SIGTERM').filter((l) => !before.has(l));
    assert.equal(mine.length, 1);
    (mine[0] as (signal: NodeJS.Signals) => void)('SIGTERM');
    assert.equal(await running, 0);
    assert.equal(process.listeners('SIGTERM').length, before.size, 'signal handlers removed');
    assert.ok(logs().some((l) => l.msg === 'stopped'));
  });
});
