// X-Forwarded-Client-Cert in Envoy's format: what we write, and reading what Envoy writes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatXfcc, parseXfcc } from '../../src/proxy/xfcc.js';

const SLEEP = 'spiffe://cluster.local/ns/foo/sa/sleep';
const HTTPBIN = 'spiffe://cluster.local/ns/foo/sa/httpbin';
const HASH = '4a2e1c8b55e43f7a0f2d1b09e8a5c7b3e1d0f9a8b7c6d5e4f3a2b1c0d9e8f7a6';

describe('xfcc', () => {
  it('formats the element istio-proxy adds on inbound', () => {
    assert.equal(
      formatXfcc({ by: HTTPBIN, hash: HASH, subject: '', uri: SLEEP }),
      `By=${HTTPBIN};Hash=${HASH};Subject="";URI=${SLEEP}`,
    );
  });

  it('quotes values holding separators and escapes quotes; Subject is always quoted', () => {
    assert.equal(
      formatXfcc({ subject: 'CN=a,O=b', uri: 'spiffe://td/x;y', dns: ['a.example', 'b.example'] }),
      'Subject="CN=a,O=b";URI="spiffe://td/x;y";DNS=a.example;DNS=b.example',
    );
    assert.equal(formatXfcc({ subject: 'CN="q"' }), 'Subject="CN=\\"q\\""');
  });

  it('joins several proxies’ elements with commas', () => {
    assert.equal(
      formatXfcc([{ uri: SLEEP }, { by: HTTPBIN, uri: SLEEP }]),
      `URI=${SLEEP},By=${HTTPBIN};URI=${SLEEP}`,
    );
  });

  it('parses what it formats', () => {
    const elements = [
      { by: HTTPBIN, hash: HASH, subject: 'CN="q",O=x;y', uri: SLEEP, dns: ['a.example', 'b.example'] },
      { uri: SLEEP, subject: '' },
    ];
    assert.deepEqual(parseXfcc(formatXfcc(elements)), elements);
  });

  it('parses Envoy output with any key case and skips unknown keys', () => {
    assert.deepEqual(parseXfcc(`by=${HTTPBIN};HASH=${HASH};Subject="";uri=${SLEEP};Future=1`), [
      { by: HTTPBIN, hash: HASH, subject: '', uri: SLEEP },
    ]);
    assert.deepEqual(parseXfcc(''), []);
  });
});
