// Who may open /ui, over real HTTP on the monitoring server: without a token, loopback clients only
// (a client on another address of this machine is refused); with a token, a bearer header or the
// cookie the login form sets, and nothing else. GET only; searches are checked and bounded.
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { after, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import {
  createDashboardHandler,
  DASHBOARD_PATH,
  isLoopback,
  MAX_SERIAL_CHARS,
  parseSearch,
} from '../../../src/http/dashboard/dashboard-handler.js';
import type { IssuanceSearch } from '../../../src/http/dashboard/dashboard-model.js';
import { type MetricsServer, startMetricsServer } from '../../../src/http/metrics-server.js';

const TOKEN = 'a-dashboard-token-0123456789';
const servers: MetricsServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function start(host: string, adminToken: string | null) {
  const searches: IssuanceSearch[] = [];
  const handle = createDashboardHandler({
    adminToken,
    load: async (search) => {
      searches.push(search);
      return { now: new Date(), issuances: { search, entries: [], limit: 50 } };
    },
  });
  const server = await startMetricsServer({
    host,
    port: 0,
    registry: new Registry(),
    routes: {},
    notFound: 'not found',
    pages: { prefix: DASHBOARD_PATH, handle },
  });
  servers.push(server);
  return { port: server.port, searches };
}

/** An IPv4 address of this machine other than loopback: a client the dashboard must not answer. */
function otherAddress(): string {
  const found = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal);
  assert.ok(found, 'this test needs a non-loopback IPv4 address on the machine');
  return found.address;
}

describe('the dashboard without a token', () => {
  test('loopback clients get the page; a client on another address gets 403 and what to do', async () => {
    const { port } = await start('0.0.0.0', null);
    const ok = await fetch(`http://127.0.0.1:${port}/ui`);
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    const refused = await fetch(`http://${otherAddress()}:${port}/ui`);
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /clients on this machine only.*--ui-admin-token-file/s);
  });

  test('GET only; a search is checked and bounded', async () => {
    const { port, searches } = await start('127.0.0.1', null);
    const post = await fetch(`http://127.0.0.1:${port}/ui`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    const bad = await fetch(`http://127.0.0.1:${port}/ui?serial=${encodeURIComponent('<script>')}`);
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /a serial is hexadecimal digits/);
    const long = await fetch(`http://127.0.0.1:${port}/ui?serial=${'a'.repeat(MAX_SERIAL_CHARS + 1)}`);
    assert.equal(long.status, 400);
    const found = await fetch(`http://127.0.0.1:${port}/ui?serial=00:2A:9F&spiffe-id=spiffe://td/ns/a/sa/b`);
    assert.equal(found.status, 200);
    assert.deepEqual(searches.at(-1), { serial: '2a9f', spiffeId: 'spiffe://td/ns/a/sa/b' });
    assert.equal((await fetch(`http://127.0.0.1:${port}/ui/other`)).status, 404);
  });
});

describe('the dashboard with an admin token', () => {
  test('a bearer token or the login cookie opens it; anything else gets the login form', async () => {
    const { port } = await start('127.0.0.1', TOKEN);
    const base = `http://127.0.0.1:${port}`;
    const anonymous = await fetch(`${base}/ui`);
    assert.equal(anonymous.status, 401, 'even from loopback');
    assert.match(await anonymous.text(), /<form method="post" action="\/ui\/login">/);
    assert.equal((await fetch(`${base}/ui`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    assert.equal((await fetch(`${base}/ui`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);

    const login = (token: string) =>
      fetch(`${base}/ui/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
      });
    assert.equal((await login('nope')).status, 401);
    const ok = await login(TOKEN);
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), '/ui');
    const cookie = ok.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^meshca_ui=[\w-]+; Path=\/ui; HttpOnly; SameSite=Strict$/);
    assert.ok(!cookie.includes(TOKEN), 'the cookie is derived from the token, not the token');
    const session = cookie.split(';')[0]!;
    assert.equal((await fetch(`${base}/ui`, { headers: { cookie: session } })).status, 200);
    assert.equal((await fetch(`${base}/ui`, { headers: { cookie: `${session}x` } })).status, 401);
  });
});

describe('isLoopback and parseSearch', () => {
  test('what counts as loopback', () => {
    for (const a of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopback(a), a);
    for (const a of ['192.0.2.1', '::ffff:10.0.0.1', 'fd00::1', undefined])
      assert.ok(!isLoopback(a), String(a));
  });

  test('an empty search is no search', () => {
    assert.deepEqual(parseSearch(new URLSearchParams('serial=&spiffe-id=')), {});
  });
});
