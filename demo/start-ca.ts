// Starts one `meshca serve --cacerts DIR` for a demo (a cluster's istiod, as far as its CA goes) and
// reports what it signs with.

import { type GroupProcess, shellWords } from '../peers/harness/processes.js';
import type { DemoContext } from './demo-context.js';

export interface RunningCa {
  /** For messages: "cluster1's CA". */
  readonly name: string;
  /** host:port of its gRPC API. */
  readonly address: string;
  /** The plugged-in bundle's root-cert.pem (relative to the demo dir), what its workloads trust. */
  readonly rootCert: string;
  /** Its data directory (relative), home of the token issuer that `meshca token` uses. */
  readonly dataDir: string;
  readonly process: GroupProcess;
}

export async function startCa(
  ctx: DemoContext,
  opts: { name: string; cacerts: string; dataDir: string },
): Promise<RunningCa> {
  const args = [
    'serve',
    '--cacerts',
    opts.cacerts,
    '--data-dir',
    opts.dataDir,
    '--listen',
    '127.0.0.1:0',
    '--monitoring',
    'off',
  ];
  ctx.report.command(`meshca ${shellWords(args)} &`);
  const process = await ctx.group.startMeshca(args, {
    name: opts.name,
    ready: (l) => l.msg === 'meshca CA serving',
  });
  const address = String(process.readyLine.grpc);
  const loaded = process.logs.find((l) => l.msg === 'loaded CA bundle');
  const roots = Array.isArray(loaded?.roots) ? loaded.roots.join('; ') : '?';
  ctx.report.result(
    `${opts.name} serving on ${address} (pid ${process.pid}): signs as "${String(loaded?.signingCert ?? '?')}", hands out root "${roots}"`,
  );
  return {
    name: opts.name,
    address,
    rootCert: `${opts.cacerts}/root-cert.pem`,
    dataDir: opts.dataDir,
    process,
  };
}
