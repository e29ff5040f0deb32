// How long meshca takes to refuse inputs that once cost it seconds or minutes (a PEM of repeated BEGIN
// lines, a megabyte OBJECT IDENTIFIER in a CSR), beside the time it takes to read a well-made input of
// the same parser in the same run. `npm test` checks only that they are refused, with which reason.
import { generateKeyPairSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { buildWorkloadCsr } from '../src/pki/build-workload-csr.js';
import { children, readDer } from '../src/pki/der-reader.js';
import { bitString, implicit, sequence, setOf, smallInteger, tlv } from '../src/pki/der-writer.js';
import { parseCsrDer } from '../src/pki/parse-csr.js';
import { decodePem } from '../src/pki/pem.js';
import { type Summary, summarize } from './lib/stats.js';

export interface HostileInputResult {
  name: string;
  /** Time to refuse the hostile input. */
  hostileMs: Summary;
  /** Time to read a well-made input of the same parser. */
  baselineMs: Summary;
}

/** Median (min–max) of `rounds` timings of `fn`; `fn` may throw (a refusal is what is timed). */
function timeIt(fn: () => unknown, rounds: number): Summary {
  const ms: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    try {
      fn();
    } catch {
      // refused, as it should be
    }
    ms.push(performance.now() - started);
  }
  return summarize(ms);
}

function mustRefuse(name: string, fn: () => unknown): void {
  try {
    fn();
  } catch {
    return;
  }
  throw new Error(`${name}: the hostile input was accepted`);
}

export function measureHostileInputs(rounds: number): HostileInputResult[] {
  const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const csrPem = buildWorkloadCsr({ key, uri: 'spiffe://cluster.local/ns/default/sa/bench' });
  const valid = decodePem(csrPem)[0]!.der;
  const [info, algorithm] = children(valid, readDer(valid));
  const spki = children(valid, info!)[2]!;
  const slice = (node: { start: number; end: number }) => valid.subarray(node.start, node.end);
  const hugeOid = tlv(0x06, Buffer.alloc(1 << 20, 0xff).fill(0x7f, (1 << 20) - 1));
  const csrWithHugeOid = sequence(
    sequence(
      smallInteger(0),
      sequence(setOf(sequence(hugeOid, tlv(0x0c, Buffer.from('x'))))),
      slice(spki),
      implicit(0, Buffer.alloc(0), true),
    ),
    slice(algorithm!),
    bitString(Buffer.alloc(8)),
  );
  const repeatedBegins = '-----BEGIN A-----'.repeat(1000);
  const cases: { name: string; hostile: () => unknown; baseline: () => unknown }[] = [
    {
      name: 'PEM: 17 KB of repeated "-----BEGIN A-----"',
      hostile: () => decodePem(repeatedBegins),
      baseline: () => decodePem(csrPem),
    },
    {
      name: 'CSR: a 1 MiB OBJECT IDENTIFIER in the subject',
      hostile: () => parseCsrDer(csrWithHugeOid),
      baseline: () => parseCsrDer(valid),
    },
  ];
  return cases.map((c) => {
    mustRefuse(c.name, c.hostile);
    return { name: c.name, hostileMs: timeIt(c.hostile, rounds), baselineMs: timeIt(c.baseline, rounds) };
  });
}
