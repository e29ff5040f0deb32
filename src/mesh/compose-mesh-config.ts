// Putting the objects of all files together into one MeshConfig, with the checks that need more than
// one document: one IstioOperator, one signer per namespace, unique signer names, bare names qualified.
import { frozenMap } from '../lib/deep-freeze.js';
import { DEFAULT_ROOT_NAMESPACE, DEFAULT_TRUST_DOMAIN } from './default-mesh-config.js';
import { quote } from './names.js';
import type { SignerReference } from './parse-istio-operator.js';
import type { ParsedObjects } from './parse-mesh-object.js';
import type { MeshConfig, PeerAuthenticationPolicy, ProxyConfigEntry } from './types.js';

function qualify(name: string, domain: string | undefined): string {
  return name.includes('/') || domain === undefined ? name : `${domain}/${name}`;
}

function checkQualifiable(ref: SignerReference | undefined, domain: string | undefined): void {
  if (ref === undefined || ref.value.includes('/') || domain !== undefined) return;
  ref.scope.problem(
    ref.path,
    `${quote(ref.value)} is a bare signer name, which needs CERT_SIGNER_DOMAIN (in the IstioOperator's spec.components.pilot.k8s.env) to become a full one; set it, or write the full name, e.g. clusterissuers.cert-manager.io/${ref.value}`,
  );
}

function composeProxyConfigs(
  parsed: ParsedObjects,
  domain: string | undefined,
): ReadonlyMap<string, ProxyConfigEntry> {
  const byNamespace = new Map<string, ProxyConfigEntry & { name: string }>();
  for (const pc of parsed.proxyConfigs) {
    checkQualifiable(pc.certSigner, domain);
    const entry = {
      name: pc.name,
      source: pc.scope.source,
      ...(pc.certSigner ? { certSigner: pc.certSigner.value } : {}),
    };
    const earlier = byNamespace.get(pc.namespace);
    if (earlier?.certSigner === undefined) {
      if (earlier === undefined || entry.certSigner !== undefined) byNamespace.set(pc.namespace, entry);
      continue;
    }
    if (pc.certSigner && qualify(pc.certSigner.value, domain) !== qualify(earlier.certSigner, domain)) {
      pc.certSigner.scope.problem(
        pc.certSigner.path,
        `namespace ${pc.namespace} already has signer ${quote(earlier.certSigner)} from ProxyConfig ${earlier.name} (${earlier.source}); a namespace has one signer: remove one of them`,
      );
    }
  }
  return frozenMap(
    [...byNamespace].map(([ns, { certSigner, source }]) => [
      ns,
      certSigner ? { certSigner, source } : { source },
    ]),
  );
}

/** Istio ignores selectors in the root namespace, and the oldest of rival policies wins: say so. */
function composePeerAuthentications(
  parsed: ParsedObjects,
  rootNamespace: string,
): PeerAuthenticationPolicy[] {
  const kept: PeerAuthenticationPolicy[] = [];
  const namespaceWide = new Map<string, PeerAuthenticationPolicy>();
  for (const { policy, scope } of parsed.peerAuthentications) {
    if (policy.namespace === rootNamespace && policy.selector !== undefined) {
      scope.note(
        `ignored: a PeerAuthentication with a selector in the root namespace ${rootNamespace} applies to nothing (as in Istio); move it to the workload's namespace`,
      );
      continue;
    }
    if (policy.selector === undefined) {
      const first = namespaceWide.get(policy.namespace);
      if (first) {
        const level =
          policy.namespace === rootNamespace ? 'mesh-wide' : `namespace-wide (${policy.namespace})`;
        scope.note(
          `ignored: ${first.source} is already the ${level} PeerAuthentication, and the first one applies`,
        );
        continue;
      }
      namespaceWide.set(policy.namespace, policy);
    }
    kept.push(policy);
  }
  return kept;
}

/** Notes, in RA mode, a signer that workloads may use but that no caCertificates entry gives roots for. */
function noteRootlessSigners(config: MeshConfig, refs: readonly (SignerReference | undefined)[]): void {
  if (!config.raMode) return;
  const covered = new Set(config.caCertificates.flatMap((entry) => entry.certSigners));
  for (const ref of refs) {
    if (ref === undefined) continue;
    const full = qualify(ref.value, config.certSignerDomain);
    if (!covered.has(full)) {
      ref.scope.note(
        `${ref.path}: no caCertificates entry lists signer ${full} in certSigners, so its workloads get no root from meshca`,
      );
    }
  }
}

export function composeMeshConfig(parsed: ParsedObjects): MeshConfig {
  const [operator, ...extra] = parsed.operators;
  for (const other of extra) {
    other.scope.problem(
      '',
      `a second IstioOperator; meshca reads one (the first is ${operator!.scope.source}): merge them`,
    );
  }
  const domain = operator?.certSignerDomain;
  checkQualifiable(operator?.defaultCertSigner, domain);
  const proxyConfigs = composeProxyConfigs(parsed, domain);
  const rootNamespace = operator?.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;

  const seen = new Map<string, string>();
  for (const { definition, scope } of parsed.signers) {
    const first = seen.get(definition.name);
    if (first)
      scope.problem('metadata.name', `signer ${definition.name} is already defined by ${first}; rename one`);
    else seen.set(definition.name, definition.source);
  }

  const config: MeshConfig = {
    trustDomain: operator?.trustDomain ?? DEFAULT_TRUST_DOMAIN,
    rootNamespace,
    ...(operator?.defaultCertSigner ? { defaultCertSigner: operator.defaultCertSigner.value } : {}),
    caCertificates: operator?.caCertificates ?? [],
    raMode: operator?.raMode ?? false,
    ...(domain ? { certSignerDomain: domain } : {}),
    ...(operator?.pilotCertProvider ? { pilotCertProvider: operator.pilotCertProvider } : {}),
    ...(operator?.k8sSigner ? { k8sSigner: operator.k8sSigner.value } : {}),
    proxyConfigs,
    peerAuthentications: composePeerAuthentications(parsed, rootNamespace),
    signers: parsed.signers.map((s) => s.definition),
  };
  noteRootlessSigners(config, [
    operator?.defaultCertSigner,
    operator?.k8sSigner,
    ...parsed.proxyConfigs.map((pc) => pc.certSigner),
  ]);
  return config;
}
