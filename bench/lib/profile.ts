// Reads a V8 .cpuprofile (node --cpu-prof) and says where the main thread's time went: self time
// per function and per area (crypto, JWT, gRPC/HTTP2, logging, GC, …), as shares of the samples.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileEntry {
  name: string;
  /** Share of the busy (non-idle) samples, in %. */
  percent: number;
}

export interface ProfileSummary {
  /** Milliseconds of samples in the span (the main thread's wall time while profiled). */
  sampledMs: number;
  /** Share of that time the main thread had nothing to do, in %. */
  idlePercent: number;
  functions: ProfileEntry[];
  areas: ProfileEntry[];
}

function shortUrl(url: string): string {
  const cut = url.replace(/^file:\/\//, '');
  for (const marker of ['/node_modules/', '/dist/src/']) {
    const i = cut.lastIndexOf(marker);
    if (i >= 0) return cut.slice(i + marker.length);
  }
  return cut;
}

/** The area a function's self time belongs to; the order matters (the first match wins). */
function areaOf(frame: ProfileNode['callFrame']): string {
  const { functionName: fn, url } = frame;
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'V8/native (unattributed)';
  if (url.includes('/jose/')) return 'JWT (jose)';
  if (url.includes('@grpc') || url.includes('protobufjs') || url.includes('internal/http2'))
    return 'gRPC / HTTP2 / protobuf';
  if (url.includes('internal/tls') || url.includes('_tls_') || url.includes('internal/stream_base'))
    return 'TLS / sockets';
  // Named for what they do on meshca's hot path: the server verifies only CSRs with crypto.verify,
  // signs only certificates with crypto.sign, and reaches WebCrypto only through jose.
  if (url.includes('internal/crypto/util'))
    return 'WebCrypto job hand-off (jose token check; on one core it absorbs the pool thread)';
  if (url.includes('internal/crypto/sig') && fn === 'verifyOneShot') return 'crypto.verify (CSR signature)';
  if (url.includes('internal/crypto/sig') && fn === 'signOneShot') return 'crypto.sign (CA signature)';
  if (url.includes('internal/crypto/keys')) return 'key import (createPublicKey)';
  if (url.includes('internal/crypto')) return `node:crypto ${fn || '(anonymous)'}`;
  if (url.includes('/log.js') || url.includes('internal/fs') || fn === 'writeSync' || fn === 'stringify')
    return 'logging (JSON + write)';
  if (url.includes('prom-client')) return 'metrics (prom-client)';
  if (url.includes('/dist/src/')) return `meshca ${shortUrl(url)}`;
  if (url === '') return `native ${fn || '(anonymous)'}`;
  return `node ${shortUrl(url)}`;
}

/**
 * Summarizes the samples taken within `spanUs` (CLOCK_MONOTONIC µs, as V8 stamps them), so start-up
 * and shutdown stay out; the whole profile if the span holds no sample.
 */
export function summarizeProfile(path: string, spanUs?: [number, number], top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const tally = (inSpan: (t: number) => boolean) => {
    // Weight each sample by the time it stands for; hitCount alone would ignore uneven intervals.
    const selfUs = new Map<number, number>();
    let t = profile.startTime;
    for (let i = 0; i < samples.length; i++) {
      t += deltas[i] ?? 0;
      if (!inSpan(t)) continue;
      const id = samples[i]!;
      selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, deltas[i + 1] ?? deltas[i] ?? 0));
    }
    return selfUs;
  };
  let selfUs = spanUs ? tally((t) => t >= spanUs[0] && t <= spanUs[1]) : new Map<number, number>();
  if (selfUs.size === 0) selfUs = tally(() => true);
  let total = 0;
  const fnTotals = new Map<string, number>();
  const areaTotals = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const frame = node.callFrame;
    const name = `${frame.functionName || '(anonymous)'} ${frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : ''}`;
    fnTotals.set(name.trim(), (fnTotals.get(name.trim()) ?? 0) + us);
    const area = areaOf(frame);
    areaTotals.set(area, (areaTotals.get(area) ?? 0) + us);
  }
  const idle = areaTotals.get('idle') ?? 0;
  areaTotals.delete('idle');
  fnTotals.delete('(idle)');
  const busy = total - idle || 1;
  const ranked = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, percent: (100 * us) / busy }));
  return {
    sampledMs: total / 1000,
    idlePercent: (100 * idle) / (total || 1),
    functions: ranked(fnTotals),
    areas: ranked(areaTotals),
  };
}
