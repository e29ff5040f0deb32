// Reading a PeerAuthentication with the rules Istio's CRD enforces: a known mode, port keys 1-65535,
// and portLevelMtls only under a workload selector.
import { frozenMap } from '../lib/deep-freeze.js';
import { type DocScope, isMapping, joinPath, type YamlMapping } from './document-scope.js';
import { quote } from './names.js';
import { readObjectMetadata } from './read-object-metadata.js';
import { MTLS_MODES, type MtlsMode, type PeerAuthenticationPolicy } from './types.js';

function readMode(value: unknown, path: string, scope: DocScope): MtlsMode | undefined {
  const mode = scope.string(value, path);
  if (mode === undefined) return 'UNSET';
  if ((MTLS_MODES as readonly string[]).includes(mode)) return mode as MtlsMode;
  scope.problem(path, `${quote(mode)} is not a mode; use one of ${MTLS_MODES.join(', ')} (upper-case)`);
  return undefined;
}

function readMtls(value: unknown, path: string, scope: DocScope): MtlsMode | undefined {
  const mtls = scope.mapping(value, path);
  if (!mtls) return 'UNSET';
  scope.checkFields(mtls, path, { read: ['mode'], closed: true });
  return readMode(mtls.mode, joinPath(path, 'mode'), scope);
}

function readMatchLabels(value: unknown, path: string, scope: DocScope): Record<string, string> | undefined {
  const labels = scope.mapping(value, path);
  if (!labels) return undefined;
  const out: Record<string, string> = {};
  for (const [key, raw] of Object.entries(labels)) {
    const at = joinPath(path, key);
    const text = scope.string(raw, at);
    if (text === undefined) {
      if (raw === null || raw === undefined) scope.problem(at, 'is empty; give the label value');
      continue;
    }
    // Istio's CRD refuses wildcards: a selector names labels exactly.
    if (key === '' || key.includes('*')) scope.problem(at, 'a label key must be non-empty and without "*"');
    else if (text.includes('*')) scope.problem(at, `${quote(text)}: a label value must not contain "*"`);
    else out[key] = text;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function readPortLevelMtls(value: unknown, path: string, scope: DocScope): Map<number, MtlsMode> {
  const ports = new Map<number, MtlsMode>();
  const map = scope.mapping(value, path);
  if (!map) return ports;
  for (const [key, raw] of Object.entries(map)) {
    const at = joinPath(path, key);
    const port = /^[0-9]+$/.test(key) ? Number(key) : Number.NaN;
    if (!(port >= 1 && port <= 65535)) {
      scope.problem(at, `${quote(key)} is not a port number (1-65535)`);
      continue;
    }
    const mode = readMtls(raw, at, scope);
    if (mode !== undefined) ports.set(port, mode);
  }
  return ports;
}

export function parsePeerAuthentication(
  object: YamlMapping,
  scope: DocScope,
): PeerAuthenticationPolicy | undefined {
  const { name, namespace } = readObjectMetadata(object, scope, {
    name: 'required',
    namespaceHint: 'a PeerAuthentication applies to its namespace (istio-system for the whole mesh)',
  });
  const spec = scope.mapping(object.spec, 'spec') ?? {};
  scope.checkFields(spec, 'spec', { read: ['selector', 'mtls', 'portLevelMtls'], closed: true });
  let selector: Record<string, string> | undefined;
  const selectorMap = scope.mapping(spec.selector, 'spec.selector');
  if (selectorMap) {
    scope.checkFields(selectorMap, 'spec.selector', { read: ['matchLabels'], closed: true });
    selector = readMatchLabels(selectorMap.matchLabels, 'spec.selector.matchLabels', scope);
  }
  const mode = readMtls(spec.mtls, 'spec.mtls', scope);
  const portLevelMtls = readPortLevelMtls(spec.portLevelMtls, 'spec.portLevelMtls', scope);
  const labels = selectorMap?.matchLabels;
  const hasLabels = isMapping(labels) && Object.keys(labels).length > 0;
  if (spec.portLevelMtls !== undefined && spec.portLevelMtls !== null && !hasLabels) {
    scope.problem(
      'spec.portLevelMtls',
      'portLevelMtls requires selector (a port only means something for chosen workloads); add spec.selector.matchLabels or move the ports to a workload policy',
    );
  }
  if (name === undefined || namespace === undefined || mode === undefined) return undefined;
  return {
    name,
    namespace,
    ...(selector ? { selector } : {}),
    mode,
    portLevelMtls: frozenMap(portLevelMtls),
    source: scope.source,
  };
}
