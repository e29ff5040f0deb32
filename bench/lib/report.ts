// The Markdown tables printed to the terminal and written to bench/results/latest.md, and writing
// latest.json beside them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findE2e, fmt, fmtS, PEERS, type Results, speaksGrpc } from './results.js';
import { derive, judgeTargets, peerRatioKey } from './targets.js';

const times = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? `${fmt(v, 2)}×` : '–');

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

const MICRO_LABELS: [string, string][] = [
  ['floor-ec-p256', 'crypto floor, EC P-256 CA'],
  ['inproc-ec-p256', 'meshca in-process, EC P-256 CA'],
  ['inproc-token-ec-p256', 'meshca in-process + token check, EC P-256 CA'],
  ['floor-rsa-2048', 'crypto floor, RSA-2048 CA'],
  ['inproc-rsa-2048', 'meshca in-process, RSA-2048 CA'],
];

export function renderMarkdown(r: Results): string {
  const m = r.meta;
  const out: string[] = [];
  out.push(`# meshca benchmark${m.quick ? ' (quick)' : ''}`, '');
  out.push(
    `${m.date} · commit ${m.gitCommit} · ${m.cpuModel} × ${m.cores} · Node ${m.node} · OpenSSL ${m.openssl} · cfssl ${r.cfssl.available ? m.cfssl : `unavailable: ${r.cfssl.reason}`}` +
      (m.istioCa ? ` · Istio's CA ${m.istioCa}` : '') +
      (m.stepCa ? ` · ${m.stepCa}` : ''),
    '',
    `Every figure is the median (min–max) of ${m.windows} windows (end to end: ${m.windowMs} ms after a ${m.warmupMs} ms warm-up, ` +
      `stretched until every request in flight has completed once; in-process: ${m.microWindowMs} ms), all variants interleaved round-robin ` +
      'after one unrecorded warm-up round. Servers and the in-process runner are pinned to core 0 (`taskset -c 0`), the load ' +
      'generator to core 1, except in "2 cores" rows. The load generator spreads its gRPC requests (meshca, Istio\'s CA) over up to 8 ' +
      'connections ("conns"); cfssl and step-ca get one HTTPS keep-alive connection per request in flight. CPU figures come from /proc (all threads of the server\'s processes, a `--workers` primary and ' +
      'its workers together); they hold up better than certs/s when other work shares the cores.',
    '',
  );
  out.push('## In-process, one core', '');
  const floor = (k: string) => r.micro[k.replace(/^inproc(-token)?/, 'floor')]?.cpuUsPerCert.median;
  out.push(
    table(
      ['variant', 'certs/s', 'CPU µs/cert', 'floor ÷ this (CPU)'],
      MICRO_LABELS.filter(([k]) => r.micro[k]).map(([k, label]) => {
        const s = r.micro[k]!;
        const f = floor(k);
        return [
          label,
          fmtS(s.certsPerSec),
          fmtS(s.cpuUsPerCert, 1),
          f ? `${fmt((100 * f) / s.cpuUsPerCert.median)}%` : '–',
        ];
      }),
    ),
    '',
  );
  out.push(...sideBySide(r));
  out.push("## End to end (gRPC+TLS for meshca and Istio's CA, HTTPS keep-alive for cfssl and step-ca)", '');
  out.push(
    table(
      [
        'server',
        'CA',
        'in flight',
        'conns',
        'workers',
        'cores',
        'log',
        'certs/s',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'server CPU µs/cert',
        'server cores busy',
        'client µs/cert',
        'RSS MB',
        'errors',
      ],
      r.e2e.map((v) => [
        v.server,
        v.ca,
        String(v.concurrency),
        String(v.connections ?? (speaksGrpc(v.server) ? 1 : v.concurrency)),
        v.server === 'meshca' ? String(v.workers ?? 1) : '–',
        v.cores === 'pinned' ? '1' : '2 (shared)',
        v.server === 'meshca' ? (v.issuanceLog === false ? 'off' : 'on') : '–',
        fmtS(v.stats.certsPerSec),
        fmtS(v.stats.p50Ms),
        fmtS(v.stats.p95Ms),
        fmtS(v.stats.p99Ms),
        fmtS(v.stats.serverCpuUsPerCert),
        fmtS(v.stats.serverCores, 2),
        fmtS(v.stats.clientCpuUsPerCert),
        fmt(v.stats.rssMb.max),
        v.errors ? `${v.errors} (${v.firstError})` : '0',
      ]),
    ),
    '',
  );
  const split = r.e2e.filter(
    (v) => v.server === 'meshca' && Number.isFinite(v.stats.mainThreadUsPerCert.median),
  );
  if (split.length) {
    out.push(
      "### meshca's CPU per certificate by thread (main = the event loops, one per process; others = libuv pool, where jose's WebCrypto checks run, and V8's GC helpers)",
      '',
    );
    out.push(
      table(
        ['CA', 'in flight', 'workers', 'cores', 'main threads µs/cert', 'other threads µs/cert'],
        split.map((v) => [
          v.ca,
          String(v.concurrency),
          String(v.workers ?? 1),
          v.cores === 'pinned' ? '1' : '2 (shared)',
          fmtS(v.stats.mainThreadUsPerCert),
          fmtS(v.stats.otherThreadsUsPerCert),
        ]),
      ),
      '',
    );
  }
  const logRows = r.e2e
    .filter((v) => v.issuanceLog === false)
    .flatMap((off) => {
      const on = findE2e(r, 'meshca', off.ca, off.concurrency);
      if (!on) return [];
      const delta = (a: number, b: number) =>
        Number.isFinite(a) && Number.isFinite(b) ? `${fmt(a - b, 1)}` : '–';
      return [
        [
          String(off.concurrency),
          fmtS(on.stats.serverCpuUsPerCert),
          fmtS(off.stats.serverCpuUsPerCert),
          delta(on.stats.serverCpuUsPerCert.median, off.stats.serverCpuUsPerCert.median),
          fmtS(on.stats.p99Ms),
          fmtS(off.stats.p99Ms),
          fmtS(on.stats.certsPerSec),
          fmtS(off.stats.certsPerSec),
        ],
      ];
    });
  if (logRows.length) {
    out.push(
      '## The issuance log: on (default, every entry fsynced before the answer, group commit) and off, EC P-256 CA, server on one core',
      '',
    );
    out.push(
      table(
        [
          'in flight',
          'CPU µs/cert, log on',
          'log off',
          'Δ µs',
          'p99 ms, log on',
          'log off',
          'certs/s, log on',
          'log off',
        ],
        logRows,
      ),
      '',
    );
  }
  out.push(...ratioTable(r));
  const scales = Object.entries(r.derived).filter(([k]) => k.startsWith('twoCoresOverOne'));
  if (scales.length) {
    const one = findE2e(r, 'meshca', 'ec-p256', 64);
    out.push(
      `## Scale: 2 cores (server and load generator sharing both) ÷ 1 core (server pinned, load generator on the other), EC P-256 CA, 64 in flight${one?.connections ? ` over ${one.connections} connections` : ''}`,
      '',
      "meshca's figure is `--workers 2` on both cores over `--workers 1` on one; the one-worker row moves that single " +
        'event loop onto both cores, for reference. "Ceiling" is what the 2-core row could reach with both cores fully ' +
        'busy, given the CPU per certificate of the server and of the load generator that shares the cores with it: ' +
        '2 CPU-s/s ÷ (server + client µs/cert), over the 1-core certs/s.',
      '',
    );
    const rows: [string, string, string, number][] = [
      ['meshca', 'meshca', '--workers 2', 2],
      ['meshca-1worker', 'meshca', '--workers 1', 1],
      ['cfssl', 'cfssl', 'GOMAXPROCS=2', 1],
    ];
    out.push(
      table(
        [
          'server',
          '2-core setup',
          '1 core certs/s',
          '2 cores certs/s',
          'ratio',
          'ceiling',
          'server CPU µs/cert, 1 core',
          'server CPU µs/cert, 2 cores',
          'server cores busy (2 cores)',
          'client µs/cert (2 cores)',
        ],
        rows
          .filter(([name]) => r.derived[`twoCoresOverOne ${name}`] !== undefined)
          .map(([name, server, setup, workers]) => {
            const pinned = findE2e(r, server, 'ec-p256', 64);
            const two = findE2e(r, server, 'ec-p256', 64, 'shared', workers);
            return [
              server,
              setup,
              fmtS(pinned?.stats.certsPerSec),
              fmtS(two?.stats.certsPerSec),
              times(r.derived[`twoCoresOverOne ${name}`]),
              times(r.derived[`twoCoresCeiling ${name}`]),
              fmtS(pinned?.stats.serverCpuUsPerCert),
              fmtS(two?.stats.serverCpuUsPerCert),
              fmtS(two?.stats.serverCores, 2),
              fmtS(two?.stats.clientCpuUsPerCert),
            ];
          }),
      ),
      '',
    );
  }
  if (r.burst.length) {
    out.push('## Cluster restart burst (meshca, EC P-256 CA, server on one core)', '');
    out.push(
      table(
        [
          'burst',
          'first certificate ms',
          'half done ms',
          'last certificate ms',
          'server CPU µs/cert',
          'client µs/cert',
          'failures (all runs)',
        ],
        r.burst.map((b) => [
          b.name,
          fmtS(b.firstMs),
          fmtS(b.p50Ms),
          fmtS(b.lastMs),
          fmtS(b.serverCpuUsPerCert),
          fmtS(b.clientCpuUsPerCert),
          b.failures ? `${b.failures} (${b.firstError})` : '0',
        ]),
      ),
      '',
    );
  }
  if (r.memory) {
    const mem = r.memory;
    out.push(
      `## Memory over ${fmt(mem.issued)} issuances (meshca, EC P-256 CA, ${mem.concurrency} in flight)`,
      '',
    );
    out.push(
      table(
        [
          'RSS before MB',
          'RSS after MB',
          'peak MB',
          'peaks 2nd−1st half MB',
          'troughs 2nd−1st half MB',
          'certs/s',
          'failures',
        ],
        [
          [
            fmt(mem.beforeMb, 1),
            fmt(mem.afterMb, 1),
            fmt(mem.peakRssMb, 1),
            fmt(mem.peakGrowthMb, 1),
            fmt(mem.troughGrowthMb, 1),
            fmt(mem.issued / mem.seconds),
            String(mem.failures),
          ],
        ],
      ),
      '',
      `RSS along the way (issued: MB): ${mem.rss
        .filter((_, i) => i % 5 === 0 || i === mem.rss.length - 1)
        .map(([n, mb]) => `${fmt(n)}: ${fmt(mb)}`)
        .join(' · ')} (every sample in latest.json)`,
      '',
    );
  }
  if (r.hostileInputs?.length) {
    out.push('## Hostile inputs (in process: refusing inputs that once took seconds)', '');
    out.push(
      table(
        ['input', 'refused in ms', 'a well-made input in ms', 'ratio'],
        r.hostileInputs.map((h) => [
          h.name,
          fmtS(h.hostileMs, 2),
          fmtS(h.baselineMs, 3),
          fmt(h.hostileMs.median / h.baselineMs.median, 1),
        ]),
      ),
      '',
    );
  }
  out.push('## Targets (informational; the benchmark never fails on them)', '');
  out.push(
    table(
      ['target', 'figure', 'verdict'],
      r.targets.map((t) => [t.target, t.figure, t.met === null ? '–' : t.met ? 'met' : 'NOT met']),
    ),
    '',
  );
  if (r.profile) {
    const p = r.profile;
    out.push(
      `## Where the server's main thread spends its time (node --cpu-prof, ${p.concurrency} in flight, ${fmt(p.seconds, 1)} s; % of samples, idle ${fmt(p.idlePercent, 1)}%)`,
      '',
    );
    out.push(
      table(
        ['area (self time)', '%'],
        p.areas.map((a) => [a.name, fmt(a.percent, 1)]),
      ),
      '',
    );
    out.push(
      table(
        ['function (self time)', '%'],
        p.functions.map((f) => [`\`${f.name}\``, fmt(f.percent, 1)]),
      ),
      '',
    );
  }
  return out.join('\n');
}

/**
 * meshca and each peer in one table per figure, the CAs and in-flight levels as rows: the comparison
 * the README quotes. Pinned servers (one core), meshca with its issuance log on, as deployed.
 */
function sideBySide(r: Results): string[] {
  const peers = PEERS.filter((p) => r.e2e.some((v) => v.server === p.server));
  if (!peers.length) return [];
  const servers = [{ server: 'meshca', label: 'meshca' }, ...peers];
  const rows = r.e2e.filter(
    (v) => v.server === 'meshca' && v.cores === 'pinned' && v.issuanceLog !== false && (v.workers ?? 1) === 1,
  );
  const out: string[] = [
    "## Side by side: meshca, Istio's CA, cfssl, step-ca (each server on one core, medians)",
    '',
  ];
  for (const [title, pick, digits] of [
    ['server CPU µs per certificate (lower is better)', 'serverCpuUsPerCert', 0],
    ['certificates per second', 'certsPerSec', 0],
    ['p99 latency, ms', 'p99Ms', 1],
  ] as const) {
    out.push(
      `### ${title}`,
      '',
      table(
        ['CA', 'in flight', ...servers.map((s) => s.label)],
        rows.map((v) => [
          v.ca,
          String(v.concurrency),
          ...servers.map((s) => {
            const e = findE2e(r, s.server, v.ca, v.concurrency);
            return e ? fmt(e.stats[pick].median, digits) : '–';
          }),
        ]),
      ),
      '',
    );
  }
  return out;
}

/** meshca ÷ each peer, per CA and in-flight level (and the 2-core rows cfssl has). */
function ratioTable(r: Results): string[] {
  const peers = PEERS.filter((p) =>
    Object.keys(r.derived).some((k) => k.startsWith(peerRatioKey('cpuPerCert', p.server, ''))),
  );
  if (!peers.length) return [`no peer measured (cfssl: ${r.cfssl.reason ?? 'unavailable'})`, ''];
  const tags = [
    ...new Set(
      Object.keys(r.derived)
        .filter((k) => k.startsWith('cpuPerCertVs'))
        .map((k) => k.split(' ')[1]!),
    ),
  ];
  return [
    '## meshca ÷ each peer (medians; CPU below 1 and throughput above 1 favour meshca)',
    '',
    table(
      [
        'CA @ in flight',
        ...peers.flatMap((p) => [`server CPU per cert ÷ ${p.label}`, `throughput ÷ ${p.label}`]),
      ],
      tags.map((tag) => [
        tag,
        ...peers.flatMap((p) => [
          times(r.derived[peerRatioKey('cpuPerCert', p.server, tag)]),
          times(r.derived[peerRatioKey('throughput', p.server, tag)]),
        ]),
      ]),
    ),
    '',
  ];
}

/** Judges the targets, then writes latest.json and latest.md into `dir`; returns the Markdown. */
export function publish(results: Results, dir: string): string {
  results.derived = derive(results);
  results.targets = judgeTargets(results);
  const markdown = renderMarkdown(results);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(dir, 'latest.md'), `${markdown}\n`);
  return markdown;
}
