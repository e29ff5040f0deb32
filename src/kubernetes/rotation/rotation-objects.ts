// Where a staged root change lives in the Kubernetes home: the plan and a copy of the new bundle in
// one Secret (`meshca-rotation`, Opaque: it holds the new intermediate's key), written by the
// `meshca rotate` commands; per replica two ConfigMaps written by that replica alone: its issuance
// records (kept across restarts, so confirmations survive) and what it has in service (removed when
// it stops). One writer per object, so no write hides another's.
import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import { bundleFromTexts } from '../../ca/read-bundle-files.js';
import { parseRotationState, type RotationState } from '../../ca/rotation/rotation-state.js';
import type { SigningBundle } from '../../ca/signing-bundle.js';
import { isNotFound, kubeApiError } from '../kube-api-error.js';
import type { KubeClient } from '../kube-client.js';
import { secretTexts } from '../secret-texts.js';

export const ROTATION_SECRET = 'meshca-rotation';
/** The plan's key in the Secret; the other keys are the new bundle's files. */
export const STATE_KEY = 'state.json';
/** Label of the replicas' ConfigMaps: "issuances" or "in-service". */
export const ROTATION_LABEL = 'meshca.io/rotation';
export const ISSUANCES_KEY = 'issuances.json';
export const IN_SERVICE_KEY = 'in-service.json';
/**
 * The most one replica's records take: a ConfigMap holds 1 MiB, a record some 450 bytes, so about
 * 2000 identities. Beyond it the longest-quiet identities are forgotten first (they then count as
 * neither pending nor confirmed).
 */
export const MAX_RECORDS_BYTES = 900_000;

export type ReplicaObject = 'issuances' | 'in-service';

/**
 * A replica rewrites its in-service report this often, so that the report of one killed without
 * a chance to remove it goes stale: the commands then stop waiting for it, and the next replica
 * to start removes it.
 */
export const IN_SERVICE_HEARTBEAT_MS = 60_000;
export const IN_SERVICE_STALE_MS = 3 * IN_SERVICE_HEARTBEAT_MS;

/** True when a report was rewritten recently enough that its replica is taken to be running. */
export const reportIsLive = (writtenAt: string | undefined, now = Date.now()) =>
  writtenAt !== undefined && now - Date.parse(writtenAt) < IN_SERVICE_STALE_MS;

/** `meshca-issuances-<replica>` / `meshca-in-service-<replica>`, made a valid object name. */
export function replicaObjectName(kind: ReplicaObject, replica: string): string {
  const safe = replica
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 200);
  return `meshca-${kind}-${safe || 'replica'}`;
}

export async function readRotationSecret(
  client: KubeClient,
  namespace: string,
): Promise<V1Secret | undefined> {
  try {
    return await client.core.readNamespacedSecret({ name: ROTATION_SECRET, namespace });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw kubeApiError(
      err,
      { verb: 'get', resource: 'secrets', namespace, name: ROTATION_SECRET },
      client.server,
    );
  }
}

export function stateOf(secret: V1Secret | undefined, namespace: string): RotationState | undefined {
  const text = secret && secretTexts(secret)[STATE_KEY];
  if (text === undefined) return undefined;
  return parseRotationState(
    text,
    `Secret ${namespace}/${ROTATION_SECRET} key ${STATE_KEY}`,
    `delete Secret ${namespace}/${ROTATION_SECRET}`,
  );
}

/** The copy of the new bundle that prepare put beside the plan. */
export function newBundleOf(secret: V1Secret, namespace: string): SigningBundle {
  const { [STATE_KEY]: _state, ...files } = secretTexts(secret);
  const where = `Secret ${namespace}/${ROTATION_SECRET}`;
  return bundleFromTexts(files, { where, what: where });
}

/** Every replica's ConfigMaps of one kind. */
export async function listReplicaObjects(
  client: KubeClient,
  namespace: string,
  kind: ReplicaObject,
): Promise<V1ConfigMap[]> {
  const labelSelector = `${ROTATION_LABEL}=${kind}`;
  try {
    return (await client.core.listNamespacedConfigMap({ namespace, labelSelector })).items;
  } catch (err) {
    throw kubeApiError(err, { verb: 'list', resource: 'configmaps', namespace }, client.server);
  }
}

/** Creates or overwrites one replica's ConfigMap (that replica is its only writer). */
export async function writeReplicaObject(
  client: KubeClient,
  namespace: string,
  name: string,
  kind: ReplicaObject,
  data: Record<string, string>,
): Promise<void> {
  const body: V1ConfigMap = {
    metadata: {
      name,
      namespace,
      labels: { [ROTATION_LABEL]: kind, 'app.kubernetes.io/managed-by': 'meshca' },
    },
    data,
  };
  try {
    await client.core.replaceNamespacedConfigMap({ name, namespace, body });
    return;
  } catch (err) {
    if (!isNotFound(err))
      throw kubeApiError(err, { verb: 'update', resource: 'configmaps', namespace, name }, client.server);
  }
  try {
    await client.core.createNamespacedConfigMap({ namespace, body });
  } catch (err) {
    throw kubeApiError(err, { verb: 'create', resource: 'configmaps', namespace, name }, client.server);
  }
}

export async function deleteReplicaObject(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<void> {
  try {
    await client.core.deleteNamespacedConfigMap({ name, namespace });
  } catch (err) {
    if (!isNotFound(err))
      throw kubeApiError(err, { verb: 'delete', resource: 'configmaps', namespace, name }, client.server);
  }
}
