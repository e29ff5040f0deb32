// The custom-CA task's verdicts, used by steps 4 and 5: sleep → httpbin through the mesh (the Moby-Dick
// page, or CERTIFICATE_VERIFY_FAILED across signers), the root each proxy holds, and openssl's verify.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { callThrough } from './call-through-mesh.js';
import type { DemoContext } from './demo-context.js';
import { execShown } from './exec-shown.js';
import { splitCertificates } from './split-certificates.js';
import type { RunningSidecar } from './start-workload.js';

/** `curl http://httpbin.<ns>:8000/html` from a sleep; checks the page came, or the TLS verdict refused it. */
export async function callHttpbin(
  ctx: DemoContext,
  o: { from: string; sleep: RunningSidecar; to: string; expect: 'page' | 'verify-failed'; why?: string },
): Promise<boolean> {
  const port = o.sleep.outboundPorts[o.to];
  if (port === undefined) return ctx.report.check(`${o.from} → ${o.to}`, false, `no outbound port "${o.to}"`);
  ctx.report.command(
    `curl -s http://127.0.0.1:${port}/html   # ${o.from} → ${o.to}, through ${o.from}'s sidecar`,
  );
  const call = await callThrough(port, '/html');
  const title = /<title>([^<]*)<\/title>/.exec(call.body)?.[1];
  const h1 = /<h1>([^<]*)<\/h1>/.exec(call.body)?.[1];
  ctx.report.result(
    call.status === undefined
      ? `no response: ${call.error}`
      : call.status === 200 && title
        ? `HTTP 200, ${call.body.length} bytes: <title>${title}</title> <h1>${h1 ?? ''}</h1> …`
        : `HTTP ${call.status}: ${call.body.trim()}`,
  );
  const what = call.status === undefined ? `no response: ${call.error}` : `HTTP ${call.status}`;
  if (o.expect === 'page') {
    return ctx.report.check(
      `${o.from} → ${o.to}: HTTP 200 and the Moby-Dick page${o.why ? ` (${o.why})` : ''}`,
      call.status === 200 && call.body.includes('Moby-Dick'),
      what,
    );
  }
  const verifyFailed = call.body.includes('CERTIFICATE_VERIFY_FAILED');
  return ctx.report.check(
    `${o.from} → ${o.to}: refused with CERTIFICATE_VERIFY_FAILED${o.why ? ` (${o.why})` : ''}`,
    call.status !== 200 && verifyFailed,
    `${what}${verifyFailed ? ', CERTIFICATE_VERIFY_FAILED' : ''}`,
  );
}

async function certificatesIn(ctx: DemoContext, file: string): Promise<X509Certificate[]> {
  const text = await readFile(join(ctx.dir, file), 'utf8');
  return splitCertificates(text).map((pem) => new X509Certificate(pem));
}

/** The proxy's root-cert.pem holds its signer's root and nothing else (no other signer's roots). */
export async function checkRootCert(
  ctx: DemoContext,
  o: { workload: string; certDir: string; rootFile: string; signer: string },
): Promise<boolean> {
  const file = `${o.certDir}/root-cert.pem`;
  await execShown(ctx, 'openssl', ['x509', '-in', file, '-noout', '-subject', '-fingerprint', '-sha256']);
  const [held, [expected]] = await Promise.all([certificatesIn(ctx, file), certificatesIn(ctx, o.rootFile)]);
  const same = held.length === 1 && expected !== undefined && held[0]!.raw.equals(expected.raw);
  return ctx.report.check(
    `${o.workload}'s root-cert.pem is ${o.signer}'s root only`,
    same,
    held.length === 1
      ? same
        ? `1 certificate, the one in ${o.rootFile}`
        : `1 certificate, "${held[0]!.subject.replaceAll('\n', ', ')}", not the one in ${o.rootFile}`
      : `${held.length} certificates`,
  );
}

/** `openssl verify` of a proxy's chain against one root: OK when it is the chain's own root. */
export async function checkVerify(
  ctx: DemoContext,
  o: { workload: string; certDir: string; rootFile: string; expectOk: boolean },
): Promise<boolean> {
  const chain = `${o.certDir}/cert-chain.pem`;
  // -untrusted supplies whatever intermediates the chain carries; the leaf is the file's first block.
  const verify = await execShown(ctx, 'openssl', [
    'verify',
    '-CAfile',
    o.rootFile,
    '-untrusted',
    chain,
    chain,
  ]);
  const ok = verify.code === 0 && verify.stdout.includes(`${chain}: OK`);
  const verdict = (verify.stdout + verify.stderr).trim().split('\n');
  return ctx.report.check(
    `${o.workload}'s chain ${o.expectOk ? 'verifies' : 'does not verify'} against ${o.rootFile}`,
    ok === o.expectOk,
    (ok ? verdict.at(-1) : (verdict.find((l) => /^error/.test(l)) ?? verdict.at(-1))) ?? '',
  );
}
