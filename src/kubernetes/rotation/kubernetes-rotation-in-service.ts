// A replica's side of a staged root change in the Kubernetes home: it watches Secret meshca-rotation
// and reloads when it changes (every replica applies the plan; the leader's istio-ca-root-cert
// publisher follows the roots in service), records its issuances in its own ConfigMap, and reports
// what it has in service in another. Records of replicas long gone are removed once nothing in them
// can matter to a rotation any more.
import type { V1Secret } from '@kubernetes/client-node';
import type { InServiceRecord } from '../../ca/rotation/in-service-record.js';
import {
  createIssuanceRecorder,
  mergeIssuanceRecords,
  parseIssuanceRecords,
  pruneIssuanceRecords,
} from '../../ca/rotation/issuance-records.js';
import type { RotationInServiceHome } from '../../ca/rotation/rotation-home.js';
import { createRotationOverlay } from '../../ca/rotation/rotation-overlay.js';
import type { Logger } from '../../log.js';
import type { KubeClient } from '../kube-client.js';
import { watchObjects } from '../watch-objects.js';
import {
  deleteReplicaObject,
  IN_SERVICE_HEARTBEAT_MS,
  IN_SERVICE_KEY,
  ISSUANCES_KEY,
  listReplicaObjects,
  MAX_RECORDS_BYTES,
  newBundleOf,
  ROTATION_SECRET,
  readRotationSecret,
  replicaObjectName,
  reportIsLive,
  stateOf,
  writeReplicaObject,
} from './rotation-objects.js';

export async function kubernetesRotationInService(opts: {
  client: KubeClient;
  namespace: string;
  /** This replica's name (the pod's), for its ConfigMaps. */
  replica: string;
  log: Logger;
  onRecordsWriteFailed: (err: Error) => void;
  /** How long after a burst of issuances the records are written (default 1 s). */
  flushDelayMs?: number;
}): Promise<RotationInServiceHome> {
  const { client, namespace, replica, log } = opts;
  const recordsName = replicaObjectName('issuances', replica);
  const inServiceName = replicaObjectName('in-service', replica);
  const copies = await listReplicaObjects(client, namespace, 'issuances');
  await removeForgottenRecords(client, namespace, copies, recordsName, log);
  await removeStaleReports(client, namespace, inServiceName, log);
  const own = copies.find((o) => o.metadata?.name === recordsName);
  const recorder = createIssuanceRecorder({
    initial: parseIssuanceRecords(own?.data?.[ISSUANCES_KEY]),
    write: (text) =>
      writeReplicaObject(client, namespace, recordsName, 'issuances', { [ISSUANCES_KEY]: text }),
    maxBytes: MAX_RECORDS_BYTES,
    flushDelayMs: opts.flushDelayMs ?? 1000,
    onWriteFailed: opts.onRecordsWriteFailed,
  });
  // The overlay reads the Secret once per load and takes the bundle from that same version.
  let loaded: V1Secret | undefined;
  const rotation = createRotationOverlay({
    async readState() {
      loaded = await readRotationSecret(client, namespace);
      return stateOf(loaded, namespace);
    },
    loadNewBundle: async () => newBundleOf(loaded!, namespace),
  });
  const writeReport = (record: InServiceRecord) =>
    writeReplicaObject(client, namespace, inServiceName, 'in-service', {
      [IN_SERVICE_KEY]: `${JSON.stringify({ ...record, replica, writtenAt: new Date().toISOString() }, null, 2)}\n`,
    });
  let lastReport: InServiceRecord | undefined;
  const heartbeat = setInterval(() => {
    if (lastReport)
      writeReport(lastReport).catch((err: Error) =>
        log.warn('cannot rewrite this replica’s in-service report; "meshca rotate" may stop waiting for it', {
          event: 'rotation-in-service-write-failed',
          reason: err.message,
        }),
      );
  }, IN_SERVICE_HEARTBEAT_MS);
  heartbeat.unref();
  return {
    rotation,
    recorder,
    async readRecords() {
      const all = await listReplicaObjects(client, namespace, 'issuances');
      return mergeIssuanceRecords([
        ...all
          .filter((o) => o.metadata?.name !== recordsName)
          .map((o) => parseIssuanceRecords(o.data?.[ISSUANCES_KEY])),
        recorder.current(),
      ]);
    },
    async watchPlan(changed) {
      let version: string | undefined = loaded?.metadata?.resourceVersion ?? 'absent';
      return watchObjects<V1Secret>({
        client,
        path: `/api/v1/namespaces/${namespace}/secrets`,
        fieldSelector: `metadata.name=${ROTATION_SECRET}`,
        list: () =>
          client.core.listNamespacedSecret({ namespace, fieldSelector: `metadata.name=${ROTATION_SECRET}` }),
        request: { resource: 'secrets', namespace, name: ROTATION_SECRET },
        log,
        onChange(objects) {
          const now = objects.get(`${namespace}/${ROTATION_SECRET}`)?.metadata?.resourceVersion ?? 'absent';
          if (now === version) return;
          version = now;
          changed();
        },
      });
    },
    writeInService(record) {
      lastReport = record;
      return writeReport(record);
    },
    async close() {
      clearInterval(heartbeat);
      await recorder.close();
      // A stopped replica serves nothing: the commands wait only for those that run.
      await deleteReplicaObject(client, namespace, inServiceName).catch((err: Error) =>
        log.warn('cannot remove this replica’s in-service report; "meshca rotate" may wait for it', {
          event: 'rotation-in-service-remove-failed',
          reason: err.message,
        }),
      );
    },
  };
}

/** Deletes other replicas' records in which nothing is left that a rotation needs (all long expired). */
async function removeForgottenRecords(
  client: KubeClient,
  namespace: string,
  copies: Awaited<ReturnType<typeof listReplicaObjects>>,
  own: string,
  log: Logger,
): Promise<void> {
  for (const copy of copies) {
    const name = copy.metadata?.name;
    if (!name || name === own) continue;
    const records = parseIssuanceRecords(copy.data?.[ISSUANCES_KEY]);
    pruneIssuanceRecords(records, Date.now(), Number.POSITIVE_INFINITY);
    if (Object.keys(records.identities).length > 0 || Object.keys(records.latestUnderRoot).length > 0)
      continue;
    await deleteReplicaObject(client, namespace, name).catch(() => {});
    log.info(`removed ${namespace}/${name}: every certificate it recorded expired long ago`, {
      event: 'rotation-records-removed',
      name,
    });
  }
}

/** Deletes the in-service reports of replicas killed without removing theirs (not rewritten for long). */
async function removeStaleReports(
  client: KubeClient,
  namespace: string,
  own: string,
  log: Logger,
): Promise<void> {
  for (const report of await listReplicaObjects(client, namespace, 'in-service')) {
    const name = report.metadata?.name;
    if (!name || name === own) continue;
    let writtenAt: string | undefined;
    try {
      writtenAt = (JSON.parse(report.data?.[IN_SERVICE_KEY] ?? '') as InServiceRecord).writtenAt;
    } catch {}
    if (reportIsLive(writtenAt)) continue;
    await deleteReplicaObject(client, namespace, name).catch(() => {});
    log.info(`removed ${namespace}/${name}: its replica stopped reporting`, {
      event: 'rotation-report-removed',
      name,
    });
  }
}
