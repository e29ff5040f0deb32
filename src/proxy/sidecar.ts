// The mutual-TLS sidecar of the demo workloads (a small istio-proxy): one inbound port in front of
// the app and any number of plaintext outbound ports that reach other workloads over mutual TLS.
import { type InboundListener, type InboundOptions, startInboundListener } from './inbound-listener.js';
import { type OutboundListener, type OutboundOptions, startOutboundListener } from './outbound-listener.js';
import type { CredentialsSource } from './workload-credentials.js';

export type { InboundOptions, MtlsMode } from './inbound-listener.js';
export type { OutboundOptions } from './outbound-listener.js';

export interface SidecarOptions {
  /** Usually `watchWorkloadCredentials({ dir })`; the sidecar waits for its first set. */
  credentials: CredentialsSource;
  inbound?: InboundOptions;
  outbound?: OutboundOptions[];
  /** Structured events (`{ event: 'inbound_plaintext_refused', … }`); never carries keys. */
  log?: (event: object) => void;
}

export interface Sidecar {
  /** The bound inbound port, when there is an inbound listener. */
  readonly inboundPort: number | undefined;
  /** Bound outbound ports by upstream name. */
  readonly outboundPorts: Readonly<Record<string, number>>;
  close(): Promise<void>;
}

/**
 * Starts the listeners once the credentials are ready. If one listener cannot bind, those already
 * started are closed again and the bind error is thrown.
 */
export async function startSidecar(opts: SidecarOptions): Promise<Sidecar> {
  const log = opts.log ?? (() => {});
  await opts.credentials.whenReady();
  const started: Array<InboundListener | OutboundListener> = [];
  try {
    const inbound = opts.inbound
      ? await startInboundListener({ ...opts.inbound, credentials: opts.credentials, log })
      : undefined;
    if (inbound) started.push(inbound);
    const outboundPorts: Record<string, number> = {};
    for (const upstream of opts.outbound ?? []) {
      const listener = await startOutboundListener({ ...upstream, credentials: opts.credentials, log });
      started.push(listener);
      outboundPorts[upstream.name] = listener.port;
    }
    return {
      inboundPort: inbound?.port,
      outboundPorts: Object.freeze(outboundPorts),
      async close() {
        await Promise.all(started.map((listener) => listener.close()));
      },
    };
  } catch (err) {
    await Promise.all(started.map((listener) => listener.close()));
    throw err;
  }
}
