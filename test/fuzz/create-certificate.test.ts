// Property tests of the CreateCertificate handler over real gRPC/TLS (the in-process fixture server):
// hostile CSRs, tokens, TTLs, metadata and raw protobuf bytes. Every answer must be a chain or a
// refusal with the status its kind maps to, never INTERNAL from our code, never a hang, and no log
// line may show an error that was not a MeshcaError (SERVER_UNEXPECTED, or UNKNOWN for auth).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { CREATE_CERTIFICATE_PATH, caServiceClientConstructor } from '../../src/api/ca-service.js';
import { decodePem, encodePem } from '../../src/pki/pem.js';
import { AUTHENTICATION_FAILURE_MESSAGE } from '../../src/server/create-certificate.js';
import { type CaServerFixture, startFixtureServer, workloadCsr } from '../support/ca-server-fixture.js';
import { csrContents, makeCsrKeys, requestInfo, signCsr } from './csr-builder.js';
import { mutateDer, mutateTree, mutations, treeOf } from './der-mutations.js';
import { checkAsync, guardedAsync, runsFor } from './fuzz-settings.js';

/** A gRPC round trip over loopback TLS takes milliseconds; seconds mean a stuck handler. */
const CALL_TIMEOUT_MS = 5000;
const KEYS = makeCsrKeys();
const SPIFFE = 'spiffe://cluster.local/ns/fuzz/sa/caller';

interface Answer {
  code: grpc.status;
  details: string;
  chain?: string[];
}

let ca: CaServerFixture;
let client: grpc.Client;
let token: string;
let validCsr: string;

function metadataOf(entries: Record<string, string>): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(entries)) metadata.set(k, v);
  return metadata;
}

function callWith(request: object, metadata: grpc.Metadata): Promise<Answer> {
  return new Promise((resolve) => {
    (
      client as unknown as {
        CreateCertificate(
          r: object,
          m: grpc.Metadata,
          o: grpc.CallOptions,
          cb: (err: grpc.ServiceError | null, res?: { cert_chain: string[] }) => void,
        ): void;
      }
    ).CreateCertificate(request, metadata, { deadline: Date.now() + CALL_TIMEOUT_MS }, (err, res) =>
      resolve(
        err
          ? { code: err.code, details: err.details }
          : { code: grpc.status.OK, details: '', chain: res?.cert_chain },
      ),
    );
  });
}

function callRaw(bytes: Buffer, metadata: grpc.Metadata): Promise<Answer> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      CREATE_CERTIFICATE_PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      metadata,
      { deadline: Date.now() + CALL_TIMEOUT_MS },
      (err) =>
        resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '' }),
    );
  });
}

/** Runs one call and checks what it answered and what the server logged about it. */
async function judged(call: () => Promise<Answer>, allowed: readonly grpc.status[]): Promise<Answer> {
  const seen = ca.logs.length;
  const answer = await call();
  const logged = ca.logs.slice(seen);
  for (const line of logged) {
    assert.notEqual(line.code, 'SERVER_UNEXPECTED', `a non-MeshcaError reached the handler: ${line.reason}`);
    if (line.msg === 'authentication failed') {
      assert.notEqual(line.code, 'UNKNOWN', `authentication threw a non-MeshcaError: ${line.reason}`);
    }
    assert.notEqual(line.level, 'error', `the server logged an error: ${JSON.stringify(line).slice(0, 500)}`);
  }
  assert.ok(
    allowed.includes(answer.code),
    `answered ${grpc.status[answer.code]} (${answer.details.slice(0, 300)}), expected ${allowed.map((c) => grpc.status[c]).join(' or ')}`,
  );
  if (answer.code === grpc.status.UNAUTHENTICATED)
    assert.equal(answer.details, AUTHENTICATION_FAILURE_MESSAGE);
  if (answer.code === grpc.status.OK && answer.chain) {
    assert.ok(answer.chain.length >= 2, 'a chain has the leaf and its root at least');
    for (const pem of answer.chain) assert.equal(decodePem(pem)[0]!.type, 'CERTIFICATE');
  }
  if (answer.code !== grpc.status.OK) assert.ok(answer.details.length <= 4096, 'the refusal is bounded');
  return answer;
}

const REFUSED_CSR = [grpc.status.OK, grpc.status.INVALID_ARGUMENT, grpc.status.PERMISSION_DENIED] as const;

describe('CreateCertificate, fuzzed over gRPC', () => {
  before(async () => {
    ca = await startFixtureServer();
    const Client = caServiceClientConstructor();
    client = new Client(ca.address, grpc.credentials.createSsl(Buffer.from(ca.rootsPem())), {
      'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
      'grpc.default_authority': 'istiod.istio-system.svc',
    });
    token = await ca.token('fuzz', 'caller');
    validCsr = (await workloadCsr('fuzz', 'caller')).csrPem;
  });
  after(async () => {
    client?.close();
    await ca?.close();
  });

  const bearer = () => metadataOf({ authorization: `Bearer ${token}` });

  it('random and PEM-shaped CSR text is refused as INVALID_ARGUMENT', async () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => encodePem('CERTIFICATE REQUEST', b)),
      fc.constantFrom('', '-----BEGIN CERTIFICATE REQUEST-----', '-----BEGIN A-----'.repeat(20_000)),
    );
    await checkAsync(
      fc.asyncProperty(
        text,
        guardedAsync(async (csr: string) => {
          await judged(() => callWith({ csr }, bearer()), [grpc.status.INVALID_ARGUMENT]);
        }, CALL_TIMEOUT_MS),
      ),
      runsFor(100, 20),
      CALL_TIMEOUT_MS,
    );
  });

  it('mutated CSRs are issued, or refused as INVALID_ARGUMENT or PERMISSION_DENIED', async () => {
    await checkAsync(
      fc.asyncProperty(
        mutations,
        guardedAsync(async (ms) => {
          const der = mutateDer(decodePem(validCsr)[0]!.der, ms);
          await judged(() => callWith({ csr: encodePem('CERTIFICATE REQUEST', der) }, bearer()), REFUSED_CSR);
        }, CALL_TIMEOUT_MS),
      ),
      runsFor(150, 20),
      CALL_TIMEOUT_MS,
    );
  });

  it('CSRs with any names, subjects and CA wishes, signed (and mutated and signed again), never fail inside', async () => {
    await checkAsync(
      fc.asyncProperty(
        fc.oneof(
          // As an Istio agent asks (its own SPIFFE ID only), with any CA wishes and criticality.
          csrContents.map((c) => ({ ...c, subject: [], uris: [SPIFFE], dnsNames: [], emails: [], ips: [] })),
          fc
            .tuple(csrContents, fc.constantFrom([SPIFFE], [], [SPIFFE, SPIFFE]))
            .map(([c, own]) => ({ ...c, uris: [...own, ...c.uris] })),
        ),
        fc.constantFrom(...KEYS),
        fc.option(mutations, { nil: undefined, freq: 1 }),
        guardedAsync(async (contents, key, ms) => {
          const info = requestInfo(contents, key);
          const der = signCsr(ms ? mutateTree(treeOf(info), ms) : info, key);
          await judged(() => callWith({ csr: encodePem('CERTIFICATE REQUEST', der) }, bearer()), REFUSED_CSR);
        }, CALL_TIMEOUT_MS),
      ),
      runsFor(150, 20),
      CALL_TIMEOUT_MS,
    );
  });

  it('hostile authorization headers are refused as UNAUTHENTICATED with the reason logged', async () => {
    const header = fc.oneof(
      fc.string({
        unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
        maxLength: 120,
      }),
      fc
        .string({ unit: fc.constantFrom(...'AZaz09-_.'.split('')), maxLength: 200 })
        .map((t) => `Bearer ${t}`),
      // JSON.stringify overflows the stack from about 4,100 levels; 5,000 still fits the 16 KB header limit.
      fc
        .oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 4_000, max: 5_000 }))
        .map(
          (d) =>
            `Bearer ${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from(`{"iss":${'['.repeat(d)}${']'.repeat(d)}}`).toString('base64url')}.AA`,
        ),
      fc.tuple(fc.nat(), fc.constantFrom('A', '.', '_', '')).map(([at, c]) => {
        const i = at % token.length;
        return `Bearer ${token.slice(0, i)}${c}${token.slice(i + 1)}`;
      }),
    );
    await checkAsync(
      fc.asyncProperty(
        header,
        guardedAsync(async (authorization: string) => {
          await judged(
            () => callWith({ csr: validCsr }, metadataOf({ authorization })),
            [grpc.status.UNAUTHENTICATED, grpc.status.OK],
          );
        }, CALL_TIMEOUT_MS),
      ),
      runsFor(150, 20),
      CALL_TIMEOUT_MS,
    );
  });

  it('any TTL, CertSigner or ClusterID is issued or refused as INVALID_ARGUMENT or PERMISSION_DENIED', async () => {
    const value = fc.oneof(
      fc.record({ stringValue: fc.string({ maxLength: 300 }) }),
      fc.record({ numberValue: fc.double() }),
      fc.record({ boolValue: fc.boolean() }),
      fc.record({ nullValue: fc.constant('NULL_VALUE') }),
      fc.record({
        listValue: fc.record({ values: fc.array(fc.record({ stringValue: fc.string() }), { maxLength: 3 }) }),
      }),
    );
    await checkAsync(
      fc.asyncProperty(
        fc.oneof(
          fc.integer({ min: -10, max: 100 * 24 * 3600 }),
          fc.constantFrom(
            0,
            -1,
            Number.MAX_SAFE_INTEGER,
            -Number.MAX_SAFE_INTEGER,
            90 * 24 * 3600,
            90 * 24 * 3600 + 1,
          ),
        ),
        fc.dictionary(fc.constantFrom('CertSigner', 'certSigner', 'other', ''), value, { maxKeys: 2 }),
        fc.option(
          fc.string({
            unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
            maxLength: 300,
          }),
          {
            nil: undefined,
          },
        ),
        guardedAsync(async (ttl: number, fields, clusterId) => {
          const metadata = bearer();
          if (clusterId !== undefined) metadata.set('ClusterID', clusterId);
          await judged(
            () => callWith({ csr: validCsr, validity_duration: ttl, metadata: { fields } }, metadata),
            REFUSED_CSR,
          );
        }, CALL_TIMEOUT_MS),
      ),
      runsFor(100, 20),
      CALL_TIMEOUT_MS,
    );
  });

  it('raw protobuf bytes are answered, refused, or rejected by gRPC before the handler', async () => {
    const varint = (n: bigint) => {
      const out: number[] = [];
      let rest = BigInt.asUintN(64, n);
      do {
        out.push(Number(rest & 0x7fn) | (rest > 0x7fn ? 0x80 : 0));
        rest >>= 7n;
      } while (rest > 0n);
      return Buffer.from(out);
    };
    // Fields of IstioCertificateRequest (1 csr, 3 validity_duration, 4 metadata) with any wire type.
    const field = fc.oneof(
      fc
        .tuple(fc.constantFrom(1, 3, 4, 2, 15), fc.uint8Array({ maxLength: 60 }))
        .map(([n, b]) => Buffer.concat([varint(BigInt((n << 3) | 2)), varint(BigInt(b.length)), b])),
      fc
        .tuple(fc.constantFrom(1, 3, 4), fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }))
        .map(([n, v]) => Buffer.concat([varint(BigInt(n << 3)), varint(v)])),
      fc.constant(
        Buffer.concat([varint(BigInt((1 << 3) | 2)), varint(BigInt(validCsr.length)), Buffer.from(validCsr)]),
      ),
      fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)),
    );
    await checkAsync(
      fc.asyncProperty(
        fc.array(field, { maxLength: 4 }),
        guardedAsync(async (fields: Buffer[]) => {
          const answer = await judged(
            () => callRaw(Buffer.concat(fields), bearer()),
            [...REFUSED_CSR, grpc.status.INTERNAL],
          );
          // gRPC itself answers INTERNAL for bytes that are not an IstioCertificateRequest.
          if (answer.code === grpc.status.INTERNAL) assert.match(answer.details, /deserializ/i);
        }, CALL_TIMEOUT_MS),
      ),
      runsFor(150, 20),
      CALL_TIMEOUT_MS,
    );
  });

  it('still issues a certificate after all that', async () => {
    const answer = await judged(() => callWith({ csr: validCsr }, bearer()), [grpc.status.OK]);
    assert.equal(answer.chain?.length, 2);
  });
});
