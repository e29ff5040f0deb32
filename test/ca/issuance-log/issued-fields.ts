// The fields of a made-up issued certificate number `i`, for tests that write issuance logs: distinct
// serials and hashes, three namespaces, two signers.
import { createHash } from 'node:crypto';
import type { IssuedFields } from '../../../src/ca/issuance-log/entry.js';

const hex = (s: string) => createHash('sha256').update(s).digest('hex');

export function issuedFields(i: number): Omit<IssuedFields, 'time'> {
  return {
    kind: 'workload',
    serial: (0x1000 + i).toString(16),
    spiffeId: `spiffe://cluster.local/ns/ns${i % 3}/sa/sa${i}`,
    dnsNames: [],
    requester: { via: 'token', issuer: 'https://issuer', subject: `system:serviceaccount:ns${i % 3}:sa${i}` },
    signer: i % 2 ? 'meshca/local' : 'clusterissuers.cert-manager.io/other',
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2026-01-02T00:00:00.000Z',
    certSha256: hex(`cert${i}`),
    spkiSha256: hex(`key${i}`),
    requestId: `req-${i}`,
  };
}
