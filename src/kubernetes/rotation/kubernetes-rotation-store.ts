// The `meshca rotate` commands' side of a staged root change in the Kubernetes home: the plan and
// the new bundle in Secret meshca-rotation (replaced with the resourceVersion read, so two commands
// at once cannot both win), every replica's issuance records and in-service reports from their
// ConfigMaps, and the roots in service from the CA namespace's istio-ca-root-cert.
import type { V1Secret } from '@kubernetes/client-node';
import type { InServiceRecord } from '../../ca/rotation/in-service-record.js';
import { mergeIssuanceRecords, parseIssuanceRecords } from '../../ca/rotation/issuance-records.js';
import type { RotationStore } from '../../ca/rotation/rotation-home.js';
import { configError, unavailable } from '../../errors.js';
import { parseCertificates } from '../../pki/parse-certificate.js';
import { isConflict, isNotFound, kubeApiError } from '../kube-api-error.js';
import type { KubeClient } from '../kube-client.js';
import { ROOT_CONFIGMAP, ROOT_CONFIGMAP_KEY } from '../publish-root-configmaps.js';
import { secretData, secretTexts } from '../secret-texts.js';
import {
  IN_SERVICE_KEY,
  ISSUANCES_KEY,
  listReplicaObjects,
  ROTATION_SECRET,
  readRotationSecret,
  reportIsLive,
  STATE_KEY,
  stateOf,
} from './rotation-objects.js';

export function kubernetesRotationStore(client: KubeClient, namespace: string): RotationStore {
  const server = client.server;
  /** The Secret as the last readState saw it: writeState replaces exactly that version. */
  let seen: V1Secret | undefined;
  return {
    where: `namespace ${namespace} (Secret ${ROTATION_SECRET})`,
    moveInHint: `put it into Secret ${namespace}/cacerts (kubectl create secret generic cacerts -n ${namespace} --from-file=DIR --dry-run=client -o yaml | kubectl apply -f -); every replica reloads it`,
    async readState() {
      seen = await readRotationSecret(client, namespace);
      return stateOf(seen, namespace);
    },
    async writeState(state, newBundle) {
      const data = secretData({
        ...(newBundle ? newBundle.files : seen ? secretTexts(seen) : {}),
        [STATE_KEY]: `${JSON.stringify(state, null, 2)}\n`,
      });
      const body: V1Secret = {
        metadata: {
          name: ROTATION_SECRET,
          namespace,
          labels: { 'app.kubernetes.io/managed-by': 'meshca' },
          ...(seen?.metadata?.resourceVersion ? { resourceVersion: seen.metadata.resourceVersion } : {}),
        },
        type: 'Opaque',
        data,
      };
      const verb = seen ? 'update' : 'create';
      try {
        seen = seen
          ? await client.core.replaceNamespacedSecret({ name: ROTATION_SECRET, namespace, body })
          : await client.core.createNamespacedSecret({ namespace, body });
      } catch (err) {
        if (isConflict(err))
          throw unavailable(
            'KUBE_ROTATION_CONFLICT',
            `Secret ${namespace}/${ROTATION_SECRET} was changed by someone else while this command ran; run "meshca rotate status" to see the plan now, then run the command again`,
            err,
          );
        throw kubeApiError(err, { verb, resource: 'secrets', namespace, name: ROTATION_SECRET }, server);
      }
    },
    async readRecords() {
      const objects = await listReplicaObjects(client, namespace, 'issuances');
      return mergeIssuanceRecords(objects.map((o) => parseIssuanceRecords(o.data?.[ISSUANCES_KEY])));
    },
    async currentRoots() {
      let pem: string | undefined;
      try {
        pem = (await client.core.readNamespacedConfigMap({ name: ROOT_CONFIGMAP, namespace })).data?.[
          ROOT_CONFIGMAP_KEY
        ];
      } catch (err) {
        if (!isNotFound(err))
          throw kubeApiError(
            err,
            { verb: 'get', resource: 'configmaps', namespace, name: ROOT_CONFIGMAP },
            server,
          );
      }
      if (!pem)
        throw configError(
          'KUBE_ROTATION_NO_CA',
          `ConfigMap ${namespace}/${ROOT_CONFIGMAP} holds no roots, so no meshca serves in namespace ${namespace} yet; start "meshca serve --kubeconfig … --namespace ${namespace}" first`,
        );
      return parseCertificates(pem, `ConfigMap ${namespace}/${ROOT_CONFIGMAP}`);
    },
    async inService() {
      const objects = await listReplicaObjects(client, namespace, 'in-service');
      const records: InServiceRecord[] = [];
      for (const o of objects) {
        try {
          const record = JSON.parse(o.data?.[IN_SERVICE_KEY] ?? '') as InServiceRecord;
          // A stale report is a replica that was killed: nothing to wait for.
          if (reportIsLive(record.writtenAt)) records.push(record);
        } catch {
          // A replica's report half-written by hand: that replica is shown as unknown until it reports again.
        }
      }
      return records.sort((x, y) => (x.replica ?? '').localeCompare(y.replica ?? ''));
    },
  };
}
