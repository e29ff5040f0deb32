// The verification of Istio's "Plug in CA Certificates" task, done with the real openssl and diff:
// the chain httpbin's proxy presents ends in the plugged-in intermediate and root, byte for byte.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DemoContext, writeDemoFile } from './demo-context.js';
import { execShown } from './exec-shown.js';
import { splitCertificates } from './split-certificates.js';

export interface OpensslVerificationOptions {
  /** httpbin's mesh port. */
  meshPort: number;
  /** The client's certificate directory (sleep's cert-chain.pem and key.pem). */
  clientCertDir: string;
  /** The plugged-in bundle (certs/cluster1), as the operator made it. */
  cacertsDir: string;
  /** The identity the leaf must carry. */
  serverSpiffeId: string;
}

/** Lines of `s_client -showcerts` that name each certificate: ` 0 s:…` and `   i:…`. */
function chainSummary(text: string): string {
  return text
    .split('\n')
    .filter((l) => /^\s*\d+ s:/.test(l) || /^\s+i:/.test(l))
    .join('\n');
}

async function compareCertificates(
  ctx: DemoContext,
  o: { reference: string; referenceText: string; presented: string; presentedText: string; what: string },
): Promise<void> {
  await execShown(ctx, 'openssl', ['x509', '-in', o.reference, '-text', '-noout'], {
    redirect: o.referenceText,
  });
  await execShown(ctx, 'openssl', ['x509', '-in', o.presented, '-text', '-noout'], {
    redirect: o.presentedText,
  });
  const diff = await execShown(ctx, 'diff', ['-s', o.referenceText, o.presentedText], {
    // A long diff says nothing a user can act on in a demo; its first lines show where they part.
    show: (r) => r.stdout.split('\n').slice(0, 12).join('\n') + r.stderr,
  });
  ctx.report.check(
    `${o.what} is ${o.reference}`,
    diff.code === 0 && /are identical/.test(diff.stdout),
    diff.code === 0 ? `diff -s: ${diff.stdout.trim()}` : `diff -s found differences (exit ${diff.code})`,
  );
}

export async function verifyWithOpenssl(ctx: DemoContext, o: OpensslVerificationOptions): Promise<void> {
  const sClient = await execShown(
    ctx,
    'openssl',
    [
      's_client',
      '-showcerts',
      '-connect',
      `127.0.0.1:${o.meshPort}`,
      '-cert',
      `${o.clientCertDir}/cert-chain.pem`,
      '-key',
      `${o.clientCertDir}/key.pem`,
    ],
    { input: '', redirect: 'httpbin-proxy-cert.txt', show: (r) => chainSummary(r.stdout) },
  );
  const blocks = splitCertificates(sClient.stdout);
  ctx.report.say(
    "# split it into one file per certificate (what the task's `sed -n '/-----BEGIN CERTIFICATE-----/…' | awk …` does)",
  );
  const files: string[] = [];
  for (const [i, block] of blocks.entries()) {
    files.push(`proxy-cert-${i + 1}.pem`);
    await writeDemoFile(ctx, files[i]!, block);
  }
  ctx.report.result(files.join(' ') || '(no certificates)');
  ctx.report.check(
    "httpbin's proxy presents leaf, intermediate and root",
    blocks.length === 3,
    `${blocks.length} certificate(s) in the s_client output`,
  );
  if (blocks.length < 3) return;

  await compareCertificates(ctx, {
    reference: `${o.cacertsDir}/root-cert.pem`,
    referenceText: 'root-cert.crt.txt',
    presented: 'proxy-cert-3.pem',
    presentedText: 'pod-root-cert.crt.txt',
    what: 'the root certificate httpbin presents (proxy-cert-3.pem)',
  });
  await compareCertificates(ctx, {
    reference: `${o.cacertsDir}/ca-cert.pem`,
    referenceText: 'ca-cert.crt.txt',
    presented: 'proxy-cert-2.pem',
    presentedText: 'pod-cert-chain-ca.crt.txt',
    what: 'the intermediate httpbin presents (proxy-cert-2.pem)',
  });

  // The task writes `-CAfile <(cat ca-cert.pem root-cert.pem)`; a file says the same without bash.
  const caFile = 'ca-and-root-cert.pem';
  ctx.report.command(`cat ${o.cacertsDir}/ca-cert.pem ${o.cacertsDir}/root-cert.pem > ${caFile}`);
  const bundle = await Promise.all(
    ['ca-cert.pem', 'root-cert.pem'].map((f) => readFile(join(ctx.dir, o.cacertsDir, f), 'utf8')),
  );
  await writeDemoFile(ctx, caFile, bundle.join(''));
  const verify = await execShown(ctx, 'openssl', ['verify', '-CAfile', caFile, 'proxy-cert-1.pem']);
  ctx.report.check(
    "httpbin's leaf (proxy-cert-1.pem) verifies against the plugged-in intermediate and root",
    verify.code === 0 && /proxy-cert-1\.pem: OK/.test(verify.stdout),
    verify.stdout.trim() || verify.stderr.trim(),
  );

  const san = await execShown(ctx, 'openssl', [
    'x509',
    '-in',
    'proxy-cert-1.pem',
    '-noout',
    '-ext',
    'subjectAltName',
  ]);
  ctx.report.check(
    `httpbin's leaf is for ${o.serverSpiffeId}`,
    san.stdout.includes(`URI:${o.serverSpiffeId}`),
    san.stdout.trim().split('\n').pop()?.trim() ?? '',
  );
}
