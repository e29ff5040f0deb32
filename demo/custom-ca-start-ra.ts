// Step 2 of the custom-CA demo: `meshca serve --config` as istiod in RA mode, the root its agents are
// given (`meshca root-cert`, Istio's istio-ca-root-cert), and openssl's view of its serving certificate.

import { shellWords } from '../peers/harness/processes.js';
import { type DemoContext, meshcaShown, writeDemoFile } from './demo-context.js';
import { execShown } from './exec-shown.js';
import type { RunningCa } from './start-ca.js';

/** What agents pass as --ca-root: the PILOT_CERT_PROVIDER signer's root. */
const CA_ROOT_FILE = 'istio-ca-root-cert.pem';

export async function startRegistrationAuthority(
  ctx: DemoContext,
  o: { configDir: string; dataDir: string },
): Promise<RunningCa> {
  const { report } = ctx;
  const args = [
    'serve',
    '--config',
    o.configDir,
    '--data-dir',
    o.dataDir,
    '--listen',
    '127.0.0.1:0',
    '--monitoring',
    'off',
  ];
  report.command(`meshca ${shellWords(args)} &`);
  const process = await ctx.group.startMeshca(args, {
    name: 'the CA',
    ready: (l) => l.msg === 'meshca CA serving',
  });
  const address = String(process.readyLine.grpc);
  const ra = process.logs.find((l) => l.event === 'ra-mode');
  const signers = Array.isArray(ra?.signers) ? ra.signers.join(', ') : '?';
  report.result(
    `the CA serving on ${address} (pid ${process.pid}), a registration authority for the signers ${signers}`,
  );
  report.check(
    'the CA runs in registration-authority mode (EXTERNAL_CA=ISTIOD_RA_KUBERNETES_API)',
    ra !== undefined,
    ra ? `${Array.isArray(ra.signers) ? ra.signers.length : 0} signers` : 'no "ra-mode" line in its log',
  );

  report.say('  (Istio: the istio-ca-root-cert ConfigMap in every namespace, mounted by each proxy)');
  const root = await meshcaShown(ctx, ['root-cert', '--config', o.configDir, '--data-dir', o.dataDir], {
    redirect: CA_ROOT_FILE,
    quietOutput: true,
  });
  await writeDemoFile(ctx, CA_ROOT_FILE, root.stdout);

  // PILOT_CERT_PROVIDER=k8s.io/…/istio-system: the CA's own TLS certificate comes from that signer,
  // so the root just printed is all an agent needs to trust the CA.
  const sClient = await execShown(
    ctx,
    'openssl',
    ['s_client', '-connect', address, '-alpn', 'h2', '-CAfile', CA_ROOT_FILE, '-verify_return_error'],
    {
      input: '',
      show: (r) =>
        r.stdout
          .split('\n')
          .filter((l) => /^\s*\d+ s:|^\s+i:|Verify return code/.test(l))
          .join('\n'),
    },
  );
  const issuer = /^\s+i:(.*)$/m.exec(sClient.stdout)?.[1]?.trim() ?? '';
  const verified = /Verify return code: 0 \(ok\)/.test(sClient.stdout);
  report.check(
    "the CA's serving certificate comes from the istio-system signer (PILOT_CERT_PROVIDER)",
    verified && issuer.includes('istio-system root'),
    `issuer ${issuer || '?'}; ${verified ? 'verifies against' : 'does NOT verify against'} ${CA_ROOT_FILE}`,
  );
  return { name: 'the CA', address, rootCert: CA_ROOT_FILE, dataDir: o.dataDir, process };
}
