// The Kubernetes CSR API backend (Istio's ISTIOD_RA_KUBERNETES_API) runs the shared signer
// conformance suite against a real API server, with a real cert-manager as the signer behind
// `clusterissuers.cert-manager.io/foo`.

import { replicaTag } from '../../../src/issuance/signers/kubernetes-csr/csr-name.js';
import { createKubernetesCsrSigner } from '../../../src/issuance/signers/kubernetes-csr-signer.js';
import { loadKubeClient } from '../../../src/kubernetes/kube-client.js';
import { kubernetesCsrApi } from '../../../src/kubernetes/kubernetes-csr-api.js';
import { silentLogger } from '../../../src/log.js';
import { parseCertificate } from '../../../src/pki/parse-certificate.js';
import { startCertManagerCluster } from '../../support/cert-manager.js';
import { runSignerConformance } from './signer.conformance.js';

runSignerConformance('Kubernetes CSR API with cert-manager', async () => {
  const env = await startCertManagerCluster(['foo']);
  const root = env.roots.get('foo')!;
  const client = await loadKubeClient({ kind: 'file', path: env.cluster.kubeconfigPath });
  const api = await kubernetesCsrApi({ client, replicaTag: replicaTag('conformance'), log: silentLogger });
  const signer = createKubernetesCsrSigner({
    name: 'clusterissuers.cert-manager.io/foo',
    api,
    replicaTag: replicaTag('conformance'),
    rootsPem: [root],
    log: silentLogger,
  });
  return {
    signer,
    rootsPem: [root],
    ttlLimit: { kind: 'capped-near', notAfter: parseCertificate(root, 'foo root').notAfter },
    refusesOtherCsrIdentity: true,
    caCsr: 'refused',
    async cleanup() {
      api.close();
      await env.stop();
    },
  };
});
