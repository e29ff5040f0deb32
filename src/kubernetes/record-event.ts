// A Kubernetes Event on an object, so `kubectl describe secret cacerts` shows why meshca refused
// it. Best effort: failing to record an Event is logged, never fatal.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import { kubeApiError } from './kube-api-error.js';
import type { KubeClient } from './kube-client.js';

export interface EventTarget {
  kind: string;
  /** '' for a cluster-scoped object (a CSR), whose Events the API server keeps in namespace default. */
  namespace: string;
  name: string;
  uid?: string;
  apiVersion?: string;
}

/** Events hold at most 1 KiB of message in practice (kubectl shows it on one line). */
const MAX_MESSAGE = 1024;

export async function recordWarningEvent(
  client: KubeClient,
  target: EventTarget,
  event: { reason: string; message: string },
  log: Logger,
): Promise<void> {
  const now = new Date();
  const namespace = target.namespace || 'default';
  try {
    await client.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { name: `${target.name}.${randomBytes(8).toString('hex')}`, namespace },
        involvedObject: {
          kind: target.kind,
          namespace: target.namespace || undefined,
          name: target.name,
          uid: target.uid,
          apiVersion: target.apiVersion ?? 'v1',
        },
        type: 'Warning',
        reason: event.reason,
        message: event.message.slice(0, MAX_MESSAGE),
        source: { component: 'meshca' },
        reportingComponent: 'meshca',
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  } catch (err) {
    const error = kubeApiError(err, { verb: 'create', resource: 'events', namespace }, client.server);
    log.warn('cannot record a Kubernetes Event', { event: 'kube-event-failed', reason: error.message });
  }
}
