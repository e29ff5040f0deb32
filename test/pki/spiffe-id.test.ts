// SPIFFE IDs: a table of valid and invalid IDs against the rules of the SPIFFE ID specification,
// and Istio's workload form /ns/<namespace>/sa/<service-account>.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatWorkloadId,
  parseSpiffeId,
  parseWorkloadId,
  validateTrustDomain,
} from '../../src/pki/spiffe-id.js';

/** How messages quote an ID: long ones are cut at 120 characters so a log line stays readable. */
const quoted = (value: string) => JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}…` : value);

function assertRefused(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    const e = err as { code?: string; kind?: string; message: string };
    assert.equal(e.code, 'PKI_SPIFFE_ID_INVALID');
    assert.equal(e.kind, 'invalid-input');
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

describe('parseSpiffeId', () => {
  const valid: [string, string, string][] = [
    ['spiffe://cluster.local/ns/default/sa/bookinfo', 'cluster.local', '/ns/default/sa/bookinfo'],
    ['spiffe://example.org', 'example.org', ''],
    ['spiffe://a_b-c.9/x', 'a_b-c.9', '/x'],
    ['spiffe://td/Upper.Case_Path-9/..x/.y', 'td', '/Upper.Case_Path-9/..x/.y'],
    ['spiffe://td/a/b/c/d/e/f', 'td', '/a/b/c/d/e/f'],
    [`spiffe://${'a'.repeat(255)}/x`, 'a'.repeat(255), '/x'],
    [`spiffe://td/${'p'.repeat(2048 - 'spiffe://td/'.length)}`, 'td', `/${'p'.repeat(2036)}`],
  ];
  for (const [uri, trustDomain, path] of valid) {
    it(`accepts ${uri.length > 60 ? `${uri.slice(0, 40)}… (${uri.length} bytes)` : uri}`, () => {
      assert.deepEqual(parseSpiffeId(uri), { trustDomain, path });
    });
  }

  const invalid: [string, string][] = [
    ['', 'it must start with "spiffe://"'],
    ['http://td/ns/a/sa/b', 'it must start with "spiffe://"'],
    ['spiffe:/td/x', 'it must start with "spiffe://"'],
    ['SPIFFE://td/x', 'the scheme must be lower-case "spiffe://"'],
    ['Spiffe://td/x', 'the scheme must be lower-case "spiffe://"'],
    ['spiffe://', 'the trust domain is empty'],
    ['spiffe:///ns/a', 'the trust domain is empty'],
    ['spiffe://Cluster.Local/ns/a', 'the trust domain must be lower-case (use "cluster.local")'],
    ['spiffe://td:8080/x', 'the trust domain must not carry a port (no ":")'],
    ['spiffe://user@td/x', 'the trust domain must not carry user info ("user@")'],
    ['spiffe://t%64/x', 'the trust domain may only contain lower-case letters, digits, ".", "-" and "_"'],
    ['spiffe://tä/x', 'the trust domain may only contain lower-case letters, digits, ".", "-" and "_"'],
    [`spiffe://${'a'.repeat(256)}`, 'the trust domain is 256 bytes long; at most 255 are allowed'],
    ['spiffe://td/', 'the path must not end with "/"'],
    ['spiffe://td/ns/a/', 'the path must not end with "/"'],
    ['spiffe://td//x', 'the path has an empty segment ("//")'],
    ['spiffe://td/a/./b', 'the path segment "." is ".", which is not allowed'],
    ['spiffe://td/a/..', 'the path segment ".." is "..", which is not allowed'],
    [
      'spiffe://td/a%20b',
      'the path segment "a%20b" may only contain letters, digits, ".", "-" and "_" (no percent-encoding)',
    ],
    [
      'spiffe://td/a b',
      'the path segment "a b" may only contain letters, digits, ".", "-" and "_" (no percent-encoding)',
    ],
    ['spiffe://td/ns/a?x=1', 'it must not have a query ("?")'],
    ['spiffe://td/ns/a#frag', 'it must not have a fragment ("#")'],
    ['spiffe://td?x', 'it must not have a query ("?")'],
  ];
  for (const [uri, rule] of invalid) {
    it(`refuses ${JSON.stringify(uri.length > 60 ? `${uri.slice(0, 40)}…` : uri)}: ${rule}`, () => {
      assertRefused(() => parseSpiffeId(uri), `invalid SPIFFE ID ${quoted(uri)}: ${rule}`);
    });
  }

  it('refuses an ID longer than 2048 bytes and abbreviates it in the message', () => {
    const uri = `spiffe://td/${'p'.repeat(2037)}`;
    assertRefused(
      () => parseSpiffeId(uri),
      /^invalid SPIFFE ID "spiffe:\/\/td\/p+…": it is longer than 2048 bytes$/,
    );
  });
});

describe('parseWorkloadId', () => {
  it('splits an Istio workload identity', () => {
    assert.deepEqual(parseWorkloadId('spiffe://cluster.local/ns/istio-system/sa/istiod'), {
      trustDomain: 'cluster.local',
      namespace: 'istio-system',
      serviceAccount: 'istiod',
    });
  });

  const notWorkload = [
    'spiffe://cluster.local',
    'spiffe://cluster.local/ns/default',
    'spiffe://cluster.local/ns/default/sa',
    'spiffe://cluster.local/ns/default/sa/a/extra',
    'spiffe://cluster.local/sa/a/ns/default',
    'spiffe://cluster.local/NS/default/SA/a',
    'spiffe://cluster.local/x/ns/default/sa/a',
  ];
  for (const uri of notWorkload) {
    it(`refuses ${uri}`, () => {
      assertRefused(
        () => parseWorkloadId(uri),
        `invalid SPIFFE ID ${JSON.stringify(uri)}: a workload identity has the path /ns/<namespace>/sa/<service-account> (spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>)`,
      );
    });
  }

  it('applies the SPIFFE rules first', () => {
    assertRefused(() => parseWorkloadId('spiffe://td/ns/default/sa/a/'), /the path must not end with "\/"$/);
  });
});

describe('formatWorkloadId', () => {
  it('formats and round-trips', () => {
    const id = { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'bookinfo-productpage' };
    const uri = formatWorkloadId(id);
    assert.equal(uri, 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage');
    assert.deepEqual(parseWorkloadId(uri), id);
  });

  const bad: [Parameters<typeof formatWorkloadId>[0], string][] = [
    [
      { trustDomain: 'Cluster.local', namespace: 'a', serviceAccount: 'b' },
      'invalid SPIFFE trust domain "Cluster.local": the trust domain must be lower-case (use "cluster.local")',
    ],
    [
      { trustDomain: 'td', namespace: '', serviceAccount: 'b' },
      'invalid SPIFFE ID: the namespace "" is empty',
    ],
    [
      { trustDomain: 'td', namespace: 'a/b', serviceAccount: 'c' },
      'invalid SPIFFE ID: the namespace "a/b" may only contain letters, digits, ".", "-" and "_" (no percent-encoding)',
    ],
    [
      { trustDomain: 'td', namespace: 'a', serviceAccount: '..' },
      'invalid SPIFFE ID: the service account ".." is "..", which is not allowed',
    ],
  ];
  for (const [id, message] of bad) {
    it(`refuses ${JSON.stringify(id)}`, () => {
      assertRefused(() => formatWorkloadId(id), message);
    });
  }
});

describe('validateTrustDomain', () => {
  it('returns a valid trust domain unchanged', () => {
    assert.equal(validateTrustDomain('cluster.local'), 'cluster.local');
    assert.equal(validateTrustDomain('my_td-1.example'), 'my_td-1.example');
  });

  const bad: [string, string][] = [
    ['', 'the trust domain is empty'],
    ['Example.org', 'the trust domain must be lower-case (use "example.org")'],
    ['td:443', 'the trust domain must not carry a port (no ":")'],
    ['spiffe://td', 'the trust domain must not carry a port (no ":")'],
    ['td/x', 'the trust domain may only contain lower-case letters, digits, ".", "-" and "_"'],
  ];
  for (const [td, rule] of bad) {
    it(`refuses ${JSON.stringify(td)}`, () => {
      assertRefused(
        () => validateTrustDomain(td),
        `invalid SPIFFE trust domain ${JSON.stringify(td)}: ${rule}`,
      );
    });
  }
});
