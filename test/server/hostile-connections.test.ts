// Clients that never send a valid request must not be able to pin the CA's sockets or memory: broken
// HTTP/2 (bad preface, bogus HPACK, oversized frames, a 1 MB header block), stalled TLS handshakes
// and idle connections are all closed in bounded time, and issuance keeps answering throughout.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { type Socket, connect as tcpConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { createCaClient } from '../../src/agent/ca-client.js';
import { type CaServerFixture, startFixtureServer, workloadCsr } from '../support/ca-server-fixture.js';
import { runMeshca, startServe } from '../support/meshca-process.js';
import { waitFor } from '../support/wait-for.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** An HTTP/2 frame: 24-bit length, type, flags, stream id. `length` may lie about the payload. */
function frame(
  type: number,
  flags: number,
  stream: number,
  payload: Buffer,
  length = payload.length,
): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, payload]);
}
const SETTINGS = frame(0x4, 0, 0, Buffer.alloc(0));
const HEADERS = 0x1;
const CONTINUATION = 0x9;
const END_HEADERS = 0x4;

/** What each kind of hostile client sends after the TLS handshake (undefined: no TLS at all). */
const ATTACKS: Record<string, Buffer | null | undefined> = {
  'bad preface': Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(4)),
  'bogus HPACK': Buffer.concat([
    PREFACE,
    SETTINGS,
    frame(HEADERS, END_HEADERS, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00])),
  ]),
  '16 MiB frame header': Buffer.concat([PREFACE, SETTINGS, frame(0x0, 0, 1, Buffer.alloc(16), 0xffffff)]),
  '1 MB header block': Buffer.concat([
    PREFACE,
    SETTINGS,
    // A literal header with a huge value, spread over CONTINUATION frames, never ended.
    frame(
      HEADERS,
      0,
      1,
      Buffer.concat([Buffer.from([0x00, 0x01, 0x78, 0x7f, 0xff, 0xff, 0x3f]), Buffer.alloc(16_000, 0x61)]),
    ),
    ...Array.from({ length: 62 }, () => frame(CONTINUATION, 0, 1, Buffer.alloc(16_000, 0x61))),
  ]),
  'stalled frame': Buffer.concat([PREFACE, SETTINGS, frame(HEADERS, END_HEADERS, 1, Buffer.alloc(10), 1000)]),
  'idle after TLS': null,
  'no TLS handshake': undefined,
};

/** HPACK "literal header field without indexing, new name" for each pair (names and values < 127 bytes). */
function hpack(headers: [string, string][]): Buffer {
  return Buffer.concat(
    headers.map(([name, value]) =>
      Buffer.concat([
        Buffer.from([0x00, name.length]),
        Buffer.from(name),
        Buffer.from([value.length]),
        Buffer.from(value),
      ]),
    ),
  );
}
const REQUEST_HEADERS = hpack([
  [':method', 'POST'],
  [':scheme', 'https'],
  [':path', '/istio.v1.auth.IstioCertificateService/CreateCertificate'],
  [':authority', 'istiod.istio-system.svc'],
  ['content-type', 'application/grpc'],
  ['te', 'trailers'],
]);

/** `count` streams that send their request headers and then nothing (no END_STREAM, no message). */
function headersOnlyStreams(count: number): Buffer {
  const frames = [PREFACE, SETTINGS];
  for (let i = 0; i < count; i++) frames.push(frame(HEADERS, END_HEADERS, 2 * i + 1, REQUEST_HEADERS));
  return Buffer.concat(frames);
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('hostile connections', { timeout: 120_000 }, () => {
  let fixture: CaServerFixture;
  const sockets: (Socket | TLSSocket)[] = [];
  const kindOf = new Map<Socket, string>();
  before(async () => {
    fixture = await startFixtureServer();
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await fixture?.close();
  });

  async function issueOnce(): Promise<void> {
    const client = fixture.client();
    try {
      const { csrPem } = await workloadCsr('foo', 'sleep');
      const token = await fixture.token('foo', 'sleep');
      const chain = await client.createCertificate({ csrPem, token, ttlSeconds: 3600, deadlineMs: 5000 });
      assert.ok(chain.length >= 2);
    } finally {
      client.close();
    }
  }

  /** Opens one hostile connection and leaves it open on the client side. */
  function attack(kind: string, port: number): Promise<void> {
    const payload = ATTACKS[kind];
    return new Promise((resolve) => {
      if (payload === undefined) {
        const socket = tcpConnect(port, '127.0.0.1', () => resolve());
        socket.on('error', () => {});
        sockets.push(socket);
        kindOf.set(socket, kind);
        return;
      }
      const socket = tlsConnect(
        { host: '127.0.0.1', port, ALPNProtocols: ['h2'], rejectUnauthorized: false },
        () => {
          if (payload) socket.write(payload);
          resolve();
        },
      );
      socket.on('error', () => {});
      socket.on('data', () => {});
      sockets.push(socket);
      kindOf.set(socket, kind);
    });
  }

  test('200 broken, stalled and idle connections are closed within 30 s; issuance answers throughout', async () => {
    await issueOnce(); // warm: the first call opens the server's lazily made pieces
    const baseline = openFds();
    const port = fixture.server.grpcPort;
    const kinds = Object.keys(ATTACKS);
    await Promise.all(Array.from({ length: 200 }, (_, i) => attack(kinds[i % kinds.length]!, port)));
    assert.ok(
      openFds() > baseline + 150,
      `the attack holds sockets open (${openFds()} fds, baseline ${baseline})`,
    );
    let issued = 0;
    await waitFor(
      'the server to close every hostile connection',
      async () => {
        await issueOnce();
        issued++;
        return openFds() <= baseline + 5 ? true : undefined;
      },
      30_000,
    ).catch((err: Error) => {
      const open = new Map<string, number>();
      for (const s of sockets)
        if (!s.destroyed) open.set(kindOf.get(s)!, (open.get(kindOf.get(s)!) ?? 0) + 1);
      throw new Error(`${err.message}; still open: ${JSON.stringify(Object.fromEntries(open))}`);
    });
    assert.ok(issued >= 1);
  });

  test('200,000 headers-only streams over 4 connections: the CA process grows < 50 MB and keeps issuing', async () => {
    // A separate `meshca serve`, so its resident memory is the server's alone.
    const ca = await startServe(['--data-dir', fixture.dataDir + '-streams']);
    try {
      const rssKb = () =>
        Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${ca.child.pid}/status`, 'utf8'))![1]);
      const before = rssKb();
      const flood = headersOnlyStreams(50_000);
      await Promise.all(
        Array.from(
          { length: 4 },
          () =>
            new Promise<void>((resolve) => {
              const socket = tlsConnect(
                { host: '127.0.0.1', port: ca.grpcPort, ALPNProtocols: ['h2'], rejectUnauthorized: false },
                () => socket.write(flood),
              );
              sockets.push(socket);
              socket.on('error', () => {});
              socket.on('data', () => {});
              socket.on('close', () => resolve());
            }),
        ),
      );
      const grownMb = (rssKb() - before) / 1024;
      assert.ok(grownMb < 50, `the CA's RSS grew by ${grownMb.toFixed(1)} MB`);
      const root = await runMeshca(['root-cert', '--data-dir', fixture.dataDir + '-streams']);
      const token = (
        await runMeshca([
          'token',
          '-n',
          'foo',
          '--service-account',
          'sleep',
          '--data-dir',
          fixture.dataDir + '-streams',
        ])
      ).stdout.trim();
      const client = createCaClient({ address: `127.0.0.1:${ca.grpcPort}`, rootsPem: root.stdout });
      try {
        const { csrPem } = await workloadCsr('foo', 'sleep');
        assert.ok((await client.createCertificate({ csrPem, token, deadlineMs: 5000 })).length >= 2);
      } finally {
        client.close();
      }
    } finally {
      await ca.stop();
      await rm(fixture.dataDir + '-streams', { recursive: true, force: true });
    }
  });

  test('streams whose request never completes are cancelled after the receive timeout', async () => {
    const quick = await startFixtureServer({ limits: { requestReceiveTimeoutMs: 300 } });
    try {
      const cancelled = new Set<number>();
      const socket = tlsConnect({
        host: '127.0.0.1',
        port: quick.server.grpcPort,
        ALPNProtocols: ['h2'],
        rejectUnauthorized: false,
      });
      sockets.push(socket);
      socket.on('error', () => {});
      let pending = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
          const length = pending.readUIntBE(0, 3);
          if (pending.readUInt8(3) === 0x3 /* RST_STREAM */)
            cancelled.add(pending.readUInt32BE(5) & 0x7fffffff);
          pending = pending.subarray(9 + length);
        }
      });
      socket.once('secureConnect', () => socket.write(headersOnlyStreams(20)));
      await waitFor(
        'RST_STREAM for each of the 20 half-sent requests',
        () => (cancelled.size === 20 ? true : undefined),
        10_000,
      );
    } finally {
      await quick.close();
    }
  });

  test('close() finishes even while a client keeps its connection open and never answers', async () => {
    const held = await startFixtureServer({ limits: { shutdownGraceMs: 200 } });
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: held.server.grpcPort,
      ALPNProtocols: ['h2'],
      rejectUnauthorized: false,
    });
    sockets.push(socket);
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    socket.write(Buffer.concat([PREFACE, SETTINGS]));
    let closed = false;
    const closing = held.close().then(() => {
      closed = true;
    });
    await waitFor('close() to resolve', () => (closed ? true : undefined), 10_000);
    await closing;
    assert.ok(held.logs.some((l) => l.event === 'shutdown-forced'));
  });
});
