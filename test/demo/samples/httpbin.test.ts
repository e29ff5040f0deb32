// The httpbin sample's endpoints, fetched with the sleep sample's client.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Httpbin, startHttpbin } from '../../../demo/samples/httpbin.js';
import { fetchThrough } from '../../../demo/samples/sleep.js';

describe('httpbin sample', () => {
  let httpbin: Httpbin;
  before(async () => {
    httpbin = await startHttpbin({ port: 0 });
  });
  after(() => httpbin.close());

  it('/html is Moby-Dick', async () => {
    const res = await fetchThrough(httpbin.port, '/html');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(res.body, /<h1>Herman Melville - Moby-Dick<\/h1>/);
    assert.match(res.body, /Call me Ishmael\./);
  });

  it('/headers echoes headers in canonical case', async () => {
    const res = await fetchThrough(httpbin.port, '/headers', {
      headers: { 'x-forwarded-client-cert': 'URI=x' },
    });
    const body = JSON.parse(res.body) as { headers: Record<string, string> };
    assert.equal(body.headers['X-Forwarded-Client-Cert'], 'URI=x');
    assert.equal(body.headers['Host'], `127.0.0.1:${httpbin.port}`);
  });

  it('/ip, /get and /status/<code>', async () => {
    assert.deepEqual(JSON.parse((await fetchThrough(httpbin.port, '/ip')).body), { origin: '127.0.0.1' });
    const get = JSON.parse((await fetchThrough(httpbin.port, '/get?a=1')).body) as Record<string, unknown>;
    assert.deepEqual(get['args'], { a: '1' });
    assert.equal(get['url'], `http://127.0.0.1:${httpbin.port}/get?a=1`);
    assert.equal((await fetchThrough(httpbin.port, '/status/503')).status, 503);
    assert.equal((await fetchThrough(httpbin.port, '/nope')).status, 404);
  });
});
