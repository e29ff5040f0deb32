// Reading the parts of an IstioOperator that concern the CA: meshConfig (trust domain, default signer,
// caCertificates) and istiod's environment (EXTERNAL_CA, CERT_SIGNER_DOMAIN, PILOT_CERT_PROVIDER, K8S_SIGNER).
import { isMeshcaError } from '../errors.js';
import { validateTrustDomain } from '../pki/spiffe-id.js';
import { closeMatch } from './close-match.js';
import { type DocScope, joinPath, type YamlMapping } from './document-scope.js';
import {
  fullSignerNameProblem,
  isDnsSubdomain,
  namespaceProblem,
  quote,
  signerNameProblem,
} from './names.js';
import { readCertificateText } from './read-certificate-text.js';
import { readObjectMetadata } from './read-object-metadata.js';
import type { CaCertificatesEntry } from './types.js';

/** A signer name as written, with where, so that a later cross-document check can point at it. */
export interface SignerReference {
  readonly value: string;
  readonly scope: DocScope;
  readonly path: string;
}

export interface IstioOperatorFragment {
  readonly scope: DocScope;
  trustDomain?: string;
  rootNamespace?: string;
  defaultCertSigner?: SignerReference;
  caCertificates: CaCertificatesEntry[];
  raMode: boolean;
  certSignerDomain?: string;
  pilotCertProvider?: string;
  k8sSigner?: SignerReference;
}

export const EXTERNAL_CA_RA = 'ISTIOD_RA_KUBERNETES_API';
const PILOT_ENV = ['EXTERNAL_CA', 'CERT_SIGNER_DOMAIN', 'PILOT_CERT_PROVIDER', 'K8S_SIGNER'];
const CERT_SIGNER_VAR = 'ISTIO_META_CERT_SIGNER';
const ENV_PATH = 'spec.components.pilot.k8s.env';

// meshConfig fields Istio has and meshca does not use: listed so a misspelling of a field meshca
// reads is told apart from a real field.
// biome-ignore format: a word list reads better packed
const MESH_CONFIG_IGNORED = [
  'trustDomainAliases', 'certificates', 'enableAutoMtls', 'accessLogFile', 'accessLogEncoding',
  'accessLogFormat', 'outboundTrafficPolicy', 'inboundTrafficPolicy', 'defaultProviders',
  'extensionProviders', 'enableTracing', 'enablePrometheusMerge', 'discoverySelectors',
  'localityLbSetting', 'ingressClass', 'ingressService', 'ingressControllerMode', 'ingressSelector',
  'defaultDestinationRuleExportTo', 'defaultServiceExportTo', 'defaultVirtualServiceExportTo',
  'connectTimeout', 'protocolDetectionTimeout', 'tcpKeepalive', 'h2UpgradePolicy', 'serviceSettings',
  'meshMTLS', 'tlsDefaults', 'configSources', 'dnsRefreshRate', 'pathNormalization', 'proxyHttpPort',
  'proxyListenPort', 'proxyInboundListenPort', 'enableEnvoyAccessLogService', 'verifyCertificateAtClient',
  'serviceScopeConfigs', 'outboundClusterStatName', 'inboundClusterStatName',
];

function trustDomainProblem(value: string): string | undefined {
  try {
    validateTrustDomain(value);
    return undefined;
  } catch (err) {
    if (!isMeshcaError(err)) throw err;
    return err.message;
  }
}

function pilotCertProviderProblem(value: string): string | undefined {
  if (['istiod', 'kubernetes', 'custom', 'none'].includes(value)) return undefined;
  if (value.startsWith('k8s.io/')) {
    const signer = fullSignerNameProblem(value.slice('k8s.io/'.length));
    return signer === undefined ? undefined : `${quote(value)}: after "k8s.io/" comes a signer: ${signer}`;
  }
  return `${quote(value)} is not a certificate provider; use istiod, kubernetes, custom, none or k8s.io/<signer name>`;
}

function readCaCertificates(list: unknown, path: string, scope: DocScope): CaCertificatesEntry[] {
  const entries: CaCertificatesEntry[] = [];
  for (const [i, raw] of (scope.list(list, path) ?? []).entries()) {
    const at = joinPath(path, i);
    const entry = scope.mapping(raw, at);
    if (!entry) {
      if (raw === null || raw === undefined) scope.problem(at, 'is empty; give pem and certSigners');
      continue;
    }
    scope.checkFields(entry, at, {
      read: ['pem', 'spiffeBundleUrl', 'certSigners', 'trustDomains'],
      closed: true,
    });
    const certSigners = scope.stringList(entry.certSigners, joinPath(at, 'certSigners'));
    for (const [j, signer] of certSigners.entries()) {
      const problem = fullSignerNameProblem(signer);
      if (problem) scope.problem(`${at}.certSigners[${j}]`, problem);
    }
    const trustDomains = scope.stringList(entry.trustDomains, joinPath(at, 'trustDomains'));
    for (const [j, td] of trustDomains.entries()) {
      const problem = trustDomainProblem(td);
      if (problem) scope.problem(`${at}.trustDomains[${j}]`, problem);
    }
    if (entry.spiffeBundleUrl !== undefined) {
      if (entry.pem !== undefined) scope.problem(at, 'has both pem and spiffeBundleUrl; give one of them');
      else scope.ignore(joinPath(at, 'spiffeBundleUrl'));
      continue;
    }
    const pem = scope.requiredString(entry.pem, joinPath(at, 'pem'), 'give the CA certificate in PEM form');
    if (pem === undefined) continue;
    const read = readCertificateText(pem);
    if ('why' in read) {
      scope.problem(joinPath(at, 'pem'), read.why);
      continue;
    }
    if (certSigners.length === 0 && trustDomains.length === 0) {
      scope.note(`${at}: lists no certSigners and no trustDomains, so meshca hands it to no workload`);
    }
    entries.push({ pem, certificates: read.certificates, certSigners, trustDomains, source: scope.source });
  }
  return entries;
}

function readMeshConfig(meshConfig: YamlMapping, scope: DocScope, out: IstioOperatorFragment): void {
  const path = 'spec.meshConfig';
  scope.checkFields(meshConfig, path, {
    read: ['trustDomain', 'rootNamespace', 'defaultConfig', 'caCertificates'],
    ignored: MESH_CONFIG_IGNORED,
    closed: false,
  });
  out.trustDomain = scope.string(meshConfig.trustDomain, `${path}.trustDomain`);
  const tdProblem = out.trustDomain === undefined ? undefined : trustDomainProblem(out.trustDomain);
  if (tdProblem) scope.problem(`${path}.trustDomain`, tdProblem);
  out.rootNamespace = scope.string(meshConfig.rootNamespace, `${path}.rootNamespace`);
  const nsProblem = out.rootNamespace === undefined ? undefined : namespaceProblem(out.rootNamespace);
  if (nsProblem) scope.problem(`${path}.rootNamespace`, nsProblem);

  const defaultConfig = scope.mapping(meshConfig.defaultConfig, `${path}.defaultConfig`);
  if (defaultConfig) {
    scope.checkFields(defaultConfig, `${path}.defaultConfig`, { read: ['proxyMetadata'], closed: false });
    const metaPath = `${path}.defaultConfig.proxyMetadata`;
    const metadata = scope.mapping(defaultConfig.proxyMetadata, metaPath);
    if (metadata) {
      scope.checkFields(metadata, metaPath, { read: [CERT_SIGNER_VAR], closed: false });
      const signerPath = `${metaPath}.${CERT_SIGNER_VAR}`;
      const signer = scope.string(metadata[CERT_SIGNER_VAR], signerPath);
      const problem = signer === undefined ? undefined : signerNameProblem(signer);
      if (problem) scope.problem(signerPath, problem);
      else if (signer !== undefined) out.defaultCertSigner = { value: signer, scope, path: signerPath };
    }
  }
  out.caCertificates = readCaCertificates(meshConfig.caCertificates, `${path}.caCertificates`, scope);
}

function applyPilotEnv(
  name: string,
  value: string,
  at: string,
  scope: DocScope,
  out: IstioOperatorFragment,
): void {
  const valuePath = `${at}.value`;
  let problem: string | undefined;
  if (name === 'EXTERNAL_CA') {
    if (value === EXTERNAL_CA_RA) out.raMode = true;
    else
      problem = `${quote(value)} is not supported; the only external CA mode is ${EXTERNAL_CA_RA} (forward CSRs to external signers); remove EXTERNAL_CA to let meshca sign`;
  } else if (name === 'CERT_SIGNER_DOMAIN') {
    if (isDnsSubdomain(value) && value.includes('.')) out.certSignerDomain = value;
    else
      problem = `${quote(value)} is not a domain name; write the signers' domain, e.g. clusterissuers.cert-manager.io`;
  } else if (name === 'PILOT_CERT_PROVIDER') {
    problem = pilotCertProviderProblem(value);
    if (!problem) out.pilotCertProvider = value;
  } else {
    problem = fullSignerNameProblem(value);
    if (!problem) out.k8sSigner = { value, scope, path: valuePath };
  }
  if (problem) scope.problem(valuePath, problem);
}

function readPilotEnv(list: unknown, scope: DocScope, out: IstioOperatorFragment): void {
  const seen = new Map<string, number>();
  for (const [i, raw] of (scope.list(list, ENV_PATH) ?? []).entries()) {
    const at = joinPath(ENV_PATH, i);
    const entry = scope.mapping(raw, at);
    if (!entry) continue;
    scope.checkFields(entry, at, { read: ['name', 'value', 'valueFrom'], closed: true });
    const name = scope.requiredString(entry.name, `${at}.name`, 'an env entry needs a name');
    if (name === undefined) continue;
    if (!PILOT_ENV.includes(name)) {
      const guess = closeMatch(name, PILOT_ENV);
      if (guess)
        scope.problem(`${at}.name`, `${quote(name)} is not a variable meshca reads; did you mean ${guess}?`);
      else scope.ignore(`${at} (${name})`);
      continue;
    }
    const earlier = seen.get(name);
    seen.set(name, i);
    if (earlier !== undefined) {
      scope.problem(`${at}.name`, `${name} is already set by ${ENV_PATH}[${earlier}]; keep one`);
      continue;
    }
    if (entry.valueFrom !== undefined) {
      scope.problem(`${at}.valueFrom`, `meshca cannot follow Kubernetes references; give ${name} as value`);
      continue;
    }
    const value = scope.requiredString(entry.value, `${at}.value`, `give ${name} a value`);
    if (value !== undefined) applyPilotEnv(name, value, at, scope, out);
  }
}

function readComponents(components: YamlMapping, scope: DocScope, out: IstioOperatorFragment): void {
  const path = 'spec.components';
  const others = ['base', 'ingressGateways', 'egressGateways', 'cni', 'ztunnel', 'istiodRemote'];
  scope.checkFields(components, path, { read: ['pilot'], ignored: others, closed: false });
  const pilot = scope.mapping(components.pilot, `${path}.pilot`);
  if (!pilot) return;
  const pilotFields = ['enabled', 'namespace', 'hub', 'tag', 'label'];
  scope.checkFields(pilot, `${path}.pilot`, { read: ['k8s'], ignored: pilotFields, closed: false });
  const k8s = scope.mapping(pilot.k8s, `${path}.pilot.k8s`);
  if (!k8s) return;
  // overlays patch istiod's Kubernetes objects (RBAC for the CSR API): nothing to patch here.
  scope.checkFields(k8s, `${path}.pilot.k8s`, { read: ['env'], ignored: ['overlays'], closed: false });
  readPilotEnv(k8s.env, scope, out);
}

/** Helm values can set istiod's env too; meshca reads one place, so a CA setting there must move. */
function checkValues(values: YamlMapping, scope: DocScope): void {
  const pilot = values.pilot;
  const env = typeof pilot === 'object' && pilot !== null ? (pilot as YamlMapping).env : undefined;
  if (typeof env === 'object' && env !== null) {
    for (const name of Object.keys(env).filter((n) => PILOT_ENV.includes(n))) {
      scope.problem(`spec.values.pilot.env.${name}`, `meshca reads ${name} from ${ENV_PATH}; move it there`);
    }
  }
  scope.ignore('spec.values');
}

export function parseIstioOperator(object: YamlMapping, scope: DocScope): IstioOperatorFragment {
  readObjectMetadata(object, scope, { name: 'optional' });
  const out: IstioOperatorFragment = { scope, caCertificates: [], raMode: false };
  const spec = scope.mapping(object.spec, 'spec') ?? {};
  scope.checkFields(spec, 'spec', {
    read: ['meshConfig', 'components'],
    ignored: [
      'profile',
      'hub',
      'tag',
      'revision',
      'namespace',
      'installPackagePath',
      'compatibilityVersion',
      'unvalidatedValues',
    ],
    silent: ['values'],
    closed: false,
  });
  const meshConfig = scope.mapping(spec.meshConfig, 'spec.meshConfig');
  if (meshConfig) readMeshConfig(meshConfig, scope, out);
  const components = scope.mapping(spec.components, 'spec.components');
  if (components) readComponents(components, scope, out);
  const values = scope.mapping(spec.values, 'spec.values');
  if (values) checkValues(values, scope);
  return out;
}
