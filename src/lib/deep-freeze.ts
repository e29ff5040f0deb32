// Deep freezing of the loaded mesh configuration, Maps included, so that no request handler can
// change the configuration another request is reading.
import { internalError } from '../errors.js';

// Object.freeze does not stop Map#set; maps created here refuse writes once built. A WeakSet rather
// than a field, because Map's constructor calls set() before a subclass's fields exist.
const frozenMaps = new WeakSet<object>();

const refuse = (): never => {
  throw internalError(
    'MESH_CONFIG_FROZEN',
    'the mesh configuration is read-only; build a new one with loadMeshConfig instead of changing it (this is a bug in the caller)',
  );
};

class FrozenMap<K, V> extends Map<K, V> {
  override set(key: K, value: V): this {
    if (frozenMaps.has(this)) refuse();
    return super.set(key, value);
  }
  override delete(key: K): boolean {
    if (frozenMaps.has(this)) refuse();
    return super.delete(key);
  }
  override clear(): void {
    if (frozenMaps.has(this)) refuse();
    super.clear();
  }
}

/** A Map that throws on any write, with its values deep-frozen. */
export function frozenMap<K, V>(entries: Iterable<readonly [K, V]>): ReadonlyMap<K, V> {
  const map = new FrozenMap<K, V>();
  for (const [key, value] of entries) map.set(key, deepFreeze(value));
  frozenMaps.add(map);
  return Object.freeze(map);
}

/** Freezes `value` and everything reachable from it (plain objects and arrays; maps must come from frozenMap). */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const key of Reflect.ownKeys(value)) {
    deepFreeze((value as Record<string | symbol, unknown>)[key]);
  }
  return Object.freeze(value);
}

/**
 * Deep-freezes a structured clone of a frozen value (a mesh configuration received over IPC): the
 * clone's Maps are plain, so they are rebuilt as frozen ones.
 */
export function refreezeClone<T>(value: T): T {
  if (value instanceof Map)
    return frozenMap([...value].map(([k, v]) => [k, refreezeClone(v)] as const)) as unknown as T;
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  const record = value as Record<string | symbol, unknown>;
  for (const key of Reflect.ownKeys(record)) record[key] = refreezeClone(record[key]);
  return Object.freeze(value);
}
