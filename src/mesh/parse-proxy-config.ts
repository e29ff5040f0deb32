// Reading a ProxyConfig for the one setting that concerns the CA: the namespace's signer,
// `spec.environmentVariables.ISTIO_META_CERT_SIGNER`.
import type { DocScope, YamlMapping } from './document-scope.js';
import { signerNameProblem } from './names.js';
import type { SignerReference } from './parse-istio-operator.js';
import { readObjectMetadata } from './read-object-metadata.js';

export interface ProxyConfigFragment {
  readonly scope: DocScope;
  readonly name: string;
  readonly namespace: string;
  readonly certSigner?: SignerReference;
}

const SIGNER_PATH = 'spec.environmentVariables.ISTIO_META_CERT_SIGNER';

/** The ProxyConfig's namespace and signer; undefined when it cannot be used (problems or a note say why). */
export function parseProxyConfig(object: YamlMapping, scope: DocScope): ProxyConfigFragment | undefined {
  const { name, namespace } = readObjectMetadata(object, scope, {
    name: 'required',
    namespaceHint: 'a ProxyConfig applies to its namespace (istio-system for the whole mesh)',
  });
  const spec = scope.mapping(object.spec, 'spec') ?? {};
  scope.checkFields(spec, 'spec', {
    read: ['environmentVariables', 'selector'],
    ignored: ['concurrency', 'image'],
    closed: true,
  });
  const variables = scope.mapping(spec.environmentVariables, 'spec.environmentVariables');
  let signer: string | undefined;
  if (variables) {
    scope.checkFields(variables, 'spec.environmentVariables', {
      read: ['ISTIO_META_CERT_SIGNER'],
      closed: false,
    });
    signer = scope.string(variables.ISTIO_META_CERT_SIGNER, SIGNER_PATH);
    const problem = signer === undefined ? undefined : signerNameProblem(signer);
    if (problem) {
      scope.problem(SIGNER_PATH, problem);
      signer = undefined;
    }
  }
  const selector = scope.mapping(spec.selector, 'spec.selector');
  const labels =
    selector === undefined ? undefined : scope.mapping(selector.matchLabels, 'spec.selector.matchLabels');
  if (labels !== undefined && Object.keys(labels).length > 0) {
    // A workload-level signer would contradict the per-namespace signer that tenancy enforces.
    if (signer !== undefined) {
      scope.problem(
        'spec.selector',
        'meshca applies a ProxyConfig signer to a whole namespace; remove the selector, or give the selected workloads their own namespace',
      );
    } else {
      scope.ignore('spec.selector (a workload ProxyConfig without ISTIO_META_CERT_SIGNER)');
    }
    return undefined;
  }
  if (name === undefined || namespace === undefined) return undefined;
  return {
    scope,
    name,
    namespace,
    certSigner: signer === undefined ? undefined : { value: signer, scope, path: SIGNER_PATH },
  };
}
