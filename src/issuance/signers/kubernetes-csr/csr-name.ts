// CSR names that cannot collide across replicas or requests: certificatesigningrequests are
// cluster-scoped, so every meshca replica (and every Istio RA) shares one namespace of names.
// `meshca-<replica>-<random>`: the replica part tells `kubectl get csr` readers who made it, the
// 64 random bits make a collision with anyone impossible in practice; no generateName round-trip.
import { createHash, randomBytes } from 'node:crypto';

/** A short, stable, DNS-label-safe tag for one replica (its pod name or lease identity). */
export function replicaTag(replicaIdentity: string): string {
  return createHash('sha256').update(replicaIdentity).digest('hex').slice(0, 10);
}

export function csrName(tag: string): string {
  return `meshca-${tag}-${randomBytes(8).toString('hex')}`;
}
