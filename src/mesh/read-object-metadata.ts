// Reading `metadata.name` and `metadata.namespace` of a Kubernetes object with the API server's rules,
// and the top-level fields every kind shares.
import type { DocScope, YamlMapping } from './document-scope.js';
import { namespaceProblem, objectNameProblem } from './names.js';

export interface MetadataRules {
  readonly name: 'required' | 'optional';
  /** Why a namespace is needed, for the message when it is missing; undefined for cluster-scoped kinds. */
  readonly namespaceHint?: string;
}

/** The object's name and namespace, each undefined when absent or invalid (a problem is recorded). */
export function readObjectMetadata(
  object: YamlMapping,
  scope: DocScope,
  rules: MetadataRules,
): { name?: string; namespace?: string } {
  scope.checkFields(object, '', {
    read: ['apiVersion', 'kind', 'metadata', 'spec'],
    silent: ['status'],
    closed: false,
  });
  const metadata = scope.mapping(object.metadata, 'metadata') ?? {};
  const kind = scope.ref.kind ?? 'object';
  let name: string | undefined;
  if (rules.name === 'required') {
    name = scope.requiredString(metadata.name, 'metadata.name', `every ${kind} needs a name`);
  } else {
    name = scope.string(metadata.name, 'metadata.name') || undefined;
  }
  const nameProblem = name === undefined ? undefined : objectNameProblem(name);
  if (nameProblem) scope.problem('metadata.name', nameProblem);
  let namespace: string | undefined;
  if (rules.namespaceHint !== undefined) {
    namespace = scope.requiredString(metadata.namespace, 'metadata.namespace', rules.namespaceHint);
    const problem = namespace === undefined ? undefined : namespaceProblem(namespace);
    if (problem) scope.problem('metadata.namespace', problem);
    if (problem) namespace = undefined;
  }
  return { name: nameProblem ? undefined : name, namespace };
}
