// What the gRPC layer costs per call: the same unary CreateCertificate (request decoded, a fixed
// three-certificate chain answered) served by @grpc/grpc-js with meshca's connection limits, and by
// node:http2 directly with a hand-framed answer, both over TLS on one pinned core; driven by the
// agent's own gRPC client from the other core. Server CPU per call from /proc, rounds interleaved.
//   node --import tsx bench/profile-grpc.ts [--rounds 5] [--calls 20000] [--in-flight 64]
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createSecureServer } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { type CaClient, createCaClient } from '../src/agent/ca-client.js';
import { CREATE_CERTIFICATE_PATH, caServiceDefinition } from '../src/api/ca-service.js';
import { CertificateAuthority } from '../src/ca/certificate-authority.js';
import { issueServingCertificate } from '../src/pki/issue-serving-certificate.js';
import { encodePrivateKeyPem } from '../src/pki/keys.js';
import { DEFAULT_CONNECTION_LIMITS, grpcServerOptions } from '../src/server/connection-limits.js';
import { makeCa, makeIssuer, makePools } from './lib/fixtures.js';
import {
  installExitHandlers,
  onCleanup,
  processCpuMicros,
  repin,
  spawnPinned,
  stopChild,
} from './lib/procs.js';
import { summarize } from './lib/stats.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};

/** The server side: `--serve grpc-js|http2 DIR`; prints its port, answers until killed. */
async function serve(kind: string, dir: string): Promise<void> {
  const cert = readFileSync(join(dir, 'tls.crt'));
  const key = readFileSync(join(dir, 'tls.key'));
  const chain = [0, 1, 2].map(() => readFileSync(join(dir, 'ca.crt'), 'utf8'));
  if (kind === 'grpc-js') {
    const server = new grpc.Server(grpcServerOptions(DEFAULT_CONNECTION_LIMITS));
    server.addService(caServiceDefinition(), {
      CreateCertificate: (
        call: grpc.ServerUnaryCall<{ csr: string }, unknown>,
        cb: grpc.sendUnaryData<unknown>,
      ) => cb(call.request.csr ? null : { code: grpc.status.INVALID_ARGUMENT }, { cert_chain: chain }),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        '127.0.0.1:0',
        grpc.ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }]),
        (err, p) => (err ? reject(err) : resolve(p)),
      ),
    );
    console.log(port);
    return;
  }
  // The answer, framed once: a 5-byte gRPC prefix, then field 1 (cert_chain) once per certificate.
  const fields = chain.map((pem) => {
    const bytes = Buffer.from(pem);
    const len: number[] = [];
    for (let n = bytes.length; ; n >>>= 7) {
      if (n < 0x80) {
        len.push(n);
        break;
      }
      len.push((n & 0x7f) | 0x80);
    }
    return Buffer.concat([Buffer.from([0x0a, ...len]), bytes]);
  });
  const body = Buffer.concat(fields);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(body.length, 1);
  const answer = Buffer.concat([prefix, body]);
  const server = createSecureServer({ cert, key, allowHTTP1: false });
  server.on('stream', (stream, headers) => {
    if (headers[':path'] !== CREATE_CERTIFICATE_PATH) {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' },
        { endStream: true },
      );
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const request = Buffer.concat(chunks);
      // The request's field 1 (csr) must be there, as the grpc-js handler checks.
      const ok = request.length > 6 && request[5] === 0x0a;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': ok ? '0' : '3' }));
      stream.end(ok ? answer : undefined);
    });
  });
  server.listen(0, '127.0.0.1', () => console.log((server.address() as { port: number }).port));
}

if (args[0] === '--serve') {
  await serve(args[1]!, args[2]!);
} else {
  installExitHandlers();
  repin(process.pid, '1');
  const rounds = option('--rounds', 5);
  const calls = option('--calls', 20_000);
  const inFlight = option('--in-flight', 64);
  const work = mkdtempSync(join(tmpdir(), 'meshca-grpc-'));
  onCleanup(() => rmSync(work, { recursive: true, force: true }));
  const { dir: issuerDir, issuer } = await makeIssuer(work);
  const ca = await makeCa(work, 'ca', 'ec-p256', issuerDir);
  const tlsKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const caState = await CertificateAuthority.open({
    kind: 'self-signed',
    dir: join(ca.dataDir, 'ca'),
    trustDomain: 'cluster.local',
    keyType: 'ec-p256',
  });
  const tls = await issueServingCertificate({
    issuer: caState.bundle.issuer,
    publicKey: tlsKey,
    dnsNames: ['istiod.istio-system.svc'],
    ips: ['127.0.0.1'],
    ttlSeconds: 3600,
  });
  caState.close();
  writeFileSync(join(work, 'tls.crt'), tls.pem);
  writeFileSync(join(work, 'tls.key'), encodePrivateKeyPem(tlsKey), { mode: 0o600 });
  writeFileSync(join(work, 'ca.crt'), ca.certPem);
  const csrs = (await makePools(issuer, 64, 0)).steady.map((a) => a.csrPem);

  const servers: { kind: string; child: ChildProcess; clients: CaClient[]; perCall: number[] }[] = [];
  for (const kind of ['grpc-js', 'http2']) {
    const child = spawnPinned(
      '0',
      process.execPath,
      ['--import', 'tsx', new URL(import.meta.url).pathname, '--serve', kind, work],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const port = await new Promise<number>((resolve) =>
      child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))),
    );
    const clients = Array.from({ length: 8 }, () =>
      createCaClient({ address: `127.0.0.1:${port}`, rootsPem: ca.certPem }),
    );
    servers.push({ kind, child, clients, perCall: [] });
  }
  const run = async (s: (typeof servers)[number], total: number) => {
    let next = 0;
    const worker = async (w: number) => {
      while (next < total) {
        next++;
        const chain = await s.clients[w % s.clients.length]!.createCertificate({
          csrPem: csrs[next % csrs.length]!,
        });
        if (chain.length !== 3) throw new Error(`${s.kind}: answered ${chain.length} certificates`);
      }
    };
    const before = processCpuMicros(s.child.pid!);
    await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
    return (processCpuMicros(s.child.pid!) - before) / total;
  };
  for (const s of servers) await run(s, 3000); // warm up: JIT, connections
  for (let round = 0; round < rounds; round++)
    for (const s of round % 2 ? [...servers].reverse() : servers) s.perCall.push(await run(s, calls));
  console.log(`\n${calls} calls per window, ${inFlight} in flight over 8 connections, ${rounds} windows\n`);
  console.log('| server | server CPU µs per call, median (min–max) |\n|---|---|');
  for (const s of servers) {
    const st = summarize(s.perCall);
    console.log(`| ${s.kind} | ${st.median.toFixed(1)} (${st.min.toFixed(1)}–${st.max.toFixed(1)}) |`);
  }
  for (const s of servers) {
    for (const c of s.clients) c.close();
    await stopChild(s.child);
  }
  process.exit(0);
}
