// The operator's HTTP port (CA monitoring, agent status) holds no connection for a client that
// stalls: half a request, a trickled header block, an idle keep-alive connection and one connection
// too many are all closed in bounded time. Real sockets on 127.0.0.1; every wait is on an event.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import {
  DEFAULT_METRICS_SERVER_LIMITS,
  type MetricsServer,
  type MetricsServerLimits,
  startMetricsServer,
} from '../../src/http/metrics-server.js';

/** Far above every timeout a test sets, far below Node's own defaults (60 s, checked every 30 s). */
const DEADLINE_MS = 10_000;

const SHORT: Partial<MetricsServerLimits> = {
  headersTimeoutMs: 300,
  requestTimeoutMs: 600,
  keepAliveTimeoutMs: 300,
  checkIntervalMs: 50,
};

function start(limits?: Partial<MetricsServerLimits>): Promise<MetricsServer> {
  return startMetricsServer({
    host: '127.0.0.1',
    port: 0,
    registry: new Registry(),
    routes: { '/healthz': () => ({ status: 200, text: 'ok' }) },
    notFound: 'not found',
    limits,
  });
}

interface Client {
  socket: Socket;
  /** Everything the server has sent so far. */
  received(): string;
  /** Resolves once the server has closed the connection; rejects after the deadline. */
  closed: Promise<void>;
}

const opened: Socket[] = [];

async function open(port: number, deadlineMs = DEADLINE_MS): Promise<Client> {
  const socket = connect({ host: '127.0.0.1', port });
  opened.push(socket);
  let data = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    data += chunk;
  });
  socket.on('error', () => {}); // a reset is a close too; 'close' follows
  const closed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the server kept the connection open for ${deadlineMs} ms`)),
      deadlineMs,
    );
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  closed.catch(() => {}); // awaited by the tests that expect it
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => data, closed };
}

/** Sends one keep-alive GET and resolves with the status line once its whole response is in. */
function get(client: Client, path: string): Promise<string> {
  const before = client.received().length;
  return new Promise((resolve, reject) => {
    const onData = () => {
      const text = client.received().slice(before);
      const end = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)/i.exec(text)?.[1];
      const complete =
        end >= 0 &&
        (length === undefined
          ? text.endsWith('\r\n0\r\n\r\n') // chunked: the last chunk is in
          : text.length >= end + 4 + Number(length));
      if (complete) {
        client.socket.off('data', onData);
        client.socket.off('close', onClose);
        resolve(text.slice(0, text.indexOf('\r\n')));
      }
    };
    const onClose = () => reject(new Error(`closed before answering ${path}`));
    client.socket.on('data', onData);
    client.socket.once('close', onClose);
    client.socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`);
  });
}

after(() => {
  for (const s of opened) s.destroy();
});

describe('metrics server timeouts', () => {
  let server: MetricsServer;
  before(async () => {
    server = await start(SHORT);
  });
  after(() => server.close());

  test('half a request line is answered 408 and the connection closed', async () => {
    const client = await open(server.port);
    client.socket.write('GET /metr');
    await client.closed;
    assert.match(client.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
  });

  test('a connection that never sends anything is closed', async () => {
    const client = await open(server.port);
    await client.closed;
  });

  test('headers trickled a byte at a time are cut off at the headers timeout, not kept alive by the traffic', async () => {
    const client = await open(server.port);
    client.socket.write('GET /healthz HTTP/1.1\r\n');
    const trickle = setInterval(() => client.socket.writable && client.socket.write('X'), 20);
    try {
      await client.closed;
    } finally {
      clearInterval(trickle);
    }
    assert.doesNotMatch(client.received(), /200 OK/);
  });

  test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    // Node's own default is 5 s (plus a 1 s grace); 300 ms plus that grace is well inside 4 s.
    const client = await open(server.port, 4000);
    assert.equal(await get(client, '/healthz'), 'HTTP/1.1 200 OK');
    await client.closed;
  });
});

describe('metrics server connection cap', () => {
  let server: MetricsServer;
  before(async () => {
    server = await start({ maxConnections: 2 });
  });
  after(() => server.close());

  test('a connection beyond maxConnections is closed unanswered; the others keep working', async () => {
    const first = await open(server.port);
    const second = await open(server.port);
    // A response on each proves the server has accepted and counted both.
    assert.equal(await get(first, '/healthz'), 'HTTP/1.1 200 OK');
    assert.equal(await get(second, '/healthz'), 'HTTP/1.1 200 OK');
    const third = await open(server.port);
    third.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await third.closed;
    assert.equal(third.received(), '');
    assert.equal(await get(first, '/healthz'), 'HTTP/1.1 200 OK');
  });
});

describe('metrics server defaults', () => {
  test('are finite, ordered, and serve', async () => {
    const d = DEFAULT_METRICS_SERVER_LIMITS;
    for (const [name, value] of Object.entries(d)) {
      assert.ok(Number.isFinite(value) && value > 0, `${name} is ${value}`);
    }
    assert.ok(d.headersTimeoutMs <= d.requestTimeoutMs);
    // Node checks the request timeouts only every checkIntervalMs: a stalled client must go within a minute.
    assert.ok(d.requestTimeoutMs + d.checkIntervalMs <= 60_000);
    assert.ok(d.maxConnections <= 1024);
    const server = await start();
    try {
      const client = await open(server.port);
      assert.equal(await get(client, '/healthz'), 'HTTP/1.1 200 OK');
      client.socket.destroy();
    } finally {
      await server.close();
    }
  });
});
