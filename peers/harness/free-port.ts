// A TCP port on 127.0.0.1 that nothing listens on right now, for a server that must be told its port
// (step-ca's config file, pilot-agent's status port, a bench peer). Another process may still take it
// before the server binds.
import { once } from 'node:events';
import { createServer } from 'node:net';
import { unavailable } from '../../src/index.js';

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') {
    throw unavailable(
      'DEMO_NO_FREE_PORT',
      'the OS gave no free TCP port on 127.0.0.1; give a port explicitly',
    );
  }
  return address.port;
}
