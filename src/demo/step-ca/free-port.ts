// A TCP port on 127.0.0.1 that nothing listens on right now, for a server that must be told its port
// in a config file. Another process may still take it before the server binds.
import { once } from 'node:events';
import { createServer } from 'node:net';
import { unavailable } from '../../errors.js';

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') {
    throw unavailable('DEMO_NO_FREE_PORT', 'the OS gave no TCP port on 127.0.0.1 for step-ca; give a port');
  }
  return address.port;
}
