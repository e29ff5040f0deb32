// Spotting a misspelt kind or field name ("Proxyconfig", "caCertificate"), which would otherwise be
// ignored silently and leave the mesh on defaults the operator did not choose.

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The name in `candidates` that `name` is most likely a misspelling of, or undefined. Short names
 * only match when they differ in case, so that real, unrelated short names are not flagged.
 */
export function closeMatch(name: string, candidates: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    if (candidate === name) return undefined;
    const allowed = candidate.length >= 8 ? 2 : candidate.length >= 4 ? 1 : 0;
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance <= allowed && (best === undefined || distance < best.distance))
      best = { candidate, distance };
  }
  return best?.candidate;
}
