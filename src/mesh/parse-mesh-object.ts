// Sorting the objects of the mesh YAML by kind and handing each to its reader; kinds meshca does
// not read are noted (operators paste whole manifests), misspelt ones are problems.
import { closeMatch } from './close-match.js';
import { DocScope, type Findings, isMapping } from './document-scope.js';
import { quote } from './names.js';
import { parseCertManagerIssuer } from './parse-cert-manager-issuer.js';
import { type IstioOperatorFragment, parseIstioOperator } from './parse-istio-operator.js';
import { parsePeerAuthentication } from './parse-peer-authentication.js';
import { type ProxyConfigFragment, parseProxyConfig } from './parse-proxy-config.js';
import { parseStepClusterIssuer } from './parse-step-cluster-issuer.js';
import type { RawObject } from './read-mesh-documents.js';
import type { PeerAuthenticationPolicy, SignerDefinition } from './types.js';

const KINDS: Readonly<Record<string, { group: string; versions: readonly string[] }>> = {
  IstioOperator: { group: 'install.istio.io', versions: ['v1alpha1'] },
  ProxyConfig: { group: 'networking.istio.io', versions: ['v1beta1'] },
  PeerAuthentication: { group: 'security.istio.io', versions: ['v1', 'v1beta1'] },
  ClusterIssuer: { group: 'cert-manager.io', versions: ['v1'] },
  Issuer: { group: 'cert-manager.io', versions: ['v1'] },
  StepClusterIssuer: { group: 'certmanager.step.sm', versions: ['v1beta1'] },
};

/** Everything read, per kind, in load order, before the cross-document checks. */
export interface ParsedObjects {
  readonly operators: IstioOperatorFragment[];
  readonly proxyConfigs: ProxyConfigFragment[];
  readonly peerAuthentications: { policy: PeerAuthenticationPolicy; scope: DocScope }[];
  readonly signers: { definition: SignerDefinition; scope: DocScope }[];
}

/** Whether the object is one meshca reads: true, or false after noting or refusing it. */
function isReadKind(kind: string, apiVersion: unknown, scope: DocScope): boolean {
  const known = KINDS[kind];
  if (!known) {
    const guess = closeMatch(kind, Object.keys(KINDS));
    if (guess) scope.problem('kind', `${quote(kind)} is not a kind meshca reads; did you mean ${guess}?`);
    else
      scope.note(
        `kind ${kind}${typeof apiVersion === 'string' ? ` (${apiVersion})` : ''} is not read by meshca; ignored`,
      );
    return false;
  }
  const expected = `${known.group}/${known.versions[0]}`;
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    scope.problem('apiVersion', `missing; a ${kind} has apiVersion ${expected}`);
    return false;
  }
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  if (group !== known.group) {
    scope.note(
      `apiVersion ${apiVersion} is not ${known.group}: another project's ${kind}, not read by meshca; ignored`,
    );
    return false;
  }
  if (!known.versions.includes(apiVersion.slice(slash + 1))) {
    const versions = known.versions.map((v) => `${known.group}/${v}`).join(' or ');
    scope.problem('apiVersion', `${quote(apiVersion)} is not a version meshca reads; use ${versions}`);
    return false;
  }
  return true;
}

export async function parseMeshObject(
  raw: RawObject,
  findings: Findings,
  out: ParsedObjects,
  opts: { dataDir?: string },
): Promise<void> {
  const value = raw.value;
  const base = { file: raw.file, index: raw.index, itemPath: raw.itemPath };
  if (!isMapping(value)) {
    new DocScope(base, findings).problem(
      '',
      'is not a Kubernetes object; each document must be a mapping with apiVersion, kind, metadata and spec',
    );
    return;
  }
  const metadata = value.metadata;
  const name = isMapping(metadata) && typeof metadata.name === 'string' ? metadata.name : undefined;
  if (typeof value.kind !== 'string' || value.kind === '') {
    new DocScope(base, findings).problem(
      'kind',
      'missing; every document needs apiVersion and kind (e.g. kind: ProxyConfig)',
    );
    return;
  }
  const kind = value.kind;
  const scope = new DocScope({ ...base, kind, ...(name === undefined ? {} : { name }) }, findings);
  if (!isReadKind(kind, value.apiVersion, scope)) return;
  switch (kind) {
    case 'IstioOperator':
      out.operators.push(parseIstioOperator(value, scope));
      break;
    case 'ProxyConfig': {
      const proxyConfig = parseProxyConfig(value, scope);
      if (proxyConfig) out.proxyConfigs.push(proxyConfig);
      break;
    }
    case 'PeerAuthentication': {
      const policy = parsePeerAuthentication(value, scope);
      if (policy) out.peerAuthentications.push({ policy, scope });
      break;
    }
    case 'ClusterIssuer':
    case 'Issuer': {
      const definition = await parseCertManagerIssuer(value, scope, opts);
      if (definition) out.signers.push({ definition, scope });
      break;
    }
    case 'StepClusterIssuer': {
      const definition = await parseStepClusterIssuer(value, scope, opts);
      if (definition) out.signers.push({ definition, scope });
      break;
    }
  }
  scope.flushIgnored();
}
