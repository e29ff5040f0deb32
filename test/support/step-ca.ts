import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { opensslCertificate, type TestCertificate } from '../../peers/harness/openssl-mint.js';

export {
  opensslCertificate,
  type TestCertificate,
} from '../../peers/harness/openssl-mint.js';

import { peerBinary } from './peers.js';

export { freePort } from '../../peers/harness/free-port.js';
export {
  type RunningStepCa,
  type StartStepCaOptions,
  startStepCa,
} from '../../peers/harness/step-ca/start-step-ca.js';
export type {
  StartedProvisioner,
  StepCaClaims,
  StepCaProvisionerSpec,
} from '../../peers/harness/step-ca/write-step-ca-config.js';

/** The step-ca binary, built from peers/step-ca on first use; throws saying why when it cannot be. */
export function stepCaBinary(): string {
  return peerBinary('step-ca');
}

/** A root and an intermediate CA as an operator would make them for step-ca. */
export function opensslHierarchy(
  dir: string,
  label: string,
): { root: TestCertificate; intermediate: TestCertificate } {
  const caExt =
    'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash';
  const root = opensslCertificate({
    dir,
    name: `${label}-root`,
    subject: `/O=meshca test/CN=${label} Root CA`,
    extensions: caExt,
  });
  const intermediate = opensslCertificate({
    dir,
    name: `${label}-intermediate`,
    subject: `/O=meshca test/CN=${label} Intermediate CA`,
    extensions: `${caExt.replace('CA:true', 'CA:true,pathlen:0')}\nauthorityKeyIdentifier=keyid`,
    issuer: root,
  });
  return { root, intermediate };
}

export interface ResettingRelay {
  url: string;
  /** Marks every open connection to be reset (RST) when the client next sends on it; returns how many. */
  resetOpenConnectionsOnNextUse(): number;
  close(): Promise<void>;
}

/**
 * A TCP relay to 127.0.0.1:`port` (TLS passes through untouched) that can make kept-alive connections
 * die under the next request: the race a restart or an idle timeout causes, made certain for a test.
 */
export async function startResettingRelay(port: number): Promise<ResettingRelay> {
  const open = new Set<Socket>();
  const doomed = new WeakSet<Socket>();
  const relay = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    open.add(client);
    client.on('data', (chunk) => (doomed.has(client) ? client.resetAndDestroy() : upstream.write(chunk)));
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('close', () => {
      open.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  relay.listen(0, '127.0.0.1');
  await once(relay, 'listening');
  return {
    url: `https://127.0.0.1:${(relay.address() as { port: number }).port}`,
    resetOpenConnectionsOnNextUse: () => {
      for (const socket of open) doomed.add(socket);
      return open.size;
    },
    close: async () => {
      for (const socket of open) socket.destroy();
      relay.close();
      await once(relay, 'close');
    },
  };
}
