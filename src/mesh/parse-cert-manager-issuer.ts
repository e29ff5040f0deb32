// Reading a cert-manager CA issuer (ClusterIssuer, or namespaced Issuer) as a signer whose CA
// certificate and key are the `tls.crt` and `tls.key` of the secret `spec.ca.secretName`.
import type { DocScope, YamlMapping } from './document-scope.js';
import { readObjectMetadata } from './read-object-metadata.js';
import { secretFolder, secretFolderProblem } from './resolve-secret-path.js';
import type { CertManagerSignerDefinition } from './types.js';

// The files of a kubernetes.io/tls Secret, which is what cert-manager's CA issuer signs with.
const TLS_KEYS = ['tls.crt', 'tls.key'];
const OTHER_ISSUER_TYPES = ['selfSigned', 'acme', 'vault', 'venafi'];

export async function parseCertManagerIssuer(
  object: YamlMapping,
  scope: DocScope,
  opts: { dataDir?: string },
): Promise<CertManagerSignerDefinition | undefined> {
  const kind = scope.ref.kind === 'Issuer' ? 'Issuer' : 'ClusterIssuer';
  const { name, namespace } = readObjectMetadata(object, scope, {
    name: 'required',
    ...(kind === 'Issuer'
      ? { namespaceHint: 'an Issuer belongs to a namespace, which is part of its signer name' }
      : {}),
  });
  const spec = scope.mapping(object.spec, 'spec') ?? {};
  scope.checkFields(spec, 'spec', { read: ['ca'], silent: OTHER_ISSUER_TYPES, closed: true });
  const ca = scope.mapping(spec.ca, 'spec.ca');
  if (!ca) {
    // Istio's own manifests define self-signed issuers next to the CA ones; they are no signers here.
    if (Object.keys(spec).some((key) => OTHER_ISSUER_TYPES.includes(key))) {
      scope.note('only CA issuers (spec.ca) are meshca signers; this one is ignored');
    } else {
      scope.problem('spec.ca', 'missing; a CA issuer needs spec.ca.secretName');
    }
    return undefined;
  }
  scope.checkFields(ca, 'spec.ca', {
    read: ['secretName'],
    ignored: ['crlDistributionPoints', 'ocspServers', 'issuingCertificateURLs'],
    closed: true,
  });
  const secretName = scope.requiredString(
    ca.secretName,
    'spec.ca.secretName',
    'name the secret (a folder with tls.crt and tls.key) that holds the CA',
  );
  if (secretName === undefined) return undefined;
  const folder = secretFolder(secretName, scope.ref.file, opts.dataDir);
  if ('why' in folder) {
    scope.problem('spec.ca.secretName', folder.why);
    return undefined;
  }
  const problem = await secretFolderProblem(folder.path, TLS_KEYS);
  if (problem) {
    scope.problem('spec.ca.secretName', problem);
    return undefined;
  }
  if (name === undefined || (kind === 'Issuer' && namespace === undefined)) return undefined;
  const signer =
    kind === 'Issuer'
      ? `issuers.cert-manager.io/${namespace}.${name}`
      : `clusterissuers.cert-manager.io/${name}`;
  return { kind, name: signer, secretDir: folder.path, source: scope.source };
}
