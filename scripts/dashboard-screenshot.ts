// `npm run docs:screenshot`: writes docs/dashboard.png, the README's picture of the dashboard. A real
// CA (plugged-in root and intermediate) in this process, some workload certificates issued over gRPC,
// a few refusals, a refused bundle reload, then /ui in Debian's headless Chromium.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePluggedBundle, startFixtureServer, workloadCsr } from '../test/support/ca-server-fixture.js';
import { launchChromium } from '../test/support/chromium.js';

const OUT = fileURLToPath(new URL('../docs/dashboard.png', import.meta.url));

const root = await mkdtemp(join(tmpdir(), 'meshca-screenshot-'));
const cacerts = await makePluggedBundle(join(root, 'certs'));
const ca = await startFixtureServer({
  dataDir: join(root, 'data'),
  ca: { kind: 'plugged', dir: cacerts },
  issuanceLog: { dir: join(root, 'data', 'log') },
  dashboard: { adminToken: null },
});
const chromium = await launchChromium();
try {
  const client = ca.client();
  for (const [ns, sa] of [
    ['foo', 'sleep'],
    ['foo', 'httpbin'],
    ['bookinfo', 'productpage'],
    ['bookinfo', 'reviews'],
    ['bookinfo', 'ratings'],
    ['bookinfo', 'details'],
  ] as const) {
    const { csrPem } = await workloadCsr(ns, sa);
    await client.createCertificate({ csrPem, token: await ca.token(ns, sa) });
  }
  // Refusals: an unknown token, and a CSR naming someone else's identity.
  await client
    .createCertificate({ csrPem: (await workloadCsr('foo', 'sleep')).csrPem, token: 'x.y.z' })
    .catch(() => {});
  await client
    .createCertificate({
      csrPem: (await workloadCsr('foo', 'admin')).csrPem,
      token: await ca.token('foo', 'sleep'),
    })
    .catch(() => {});
  // A bundle change the CA refuses: the last good bundle keeps serving, and the page says why.
  await writeFile(join(cacerts, 'ca-key.pem'), 'not a key\n');
  await ca.server.reload();

  const page = await (chromium.browser.contexts()[0] ?? (await chromium.browser.newContext())).newPage();
  await page.setViewportSize({ width: 1440, height: 800 });
  await page.goto(`http://127.0.0.1:${ca.server.monitoringPort}/ui`);
  await page.screenshot({ path: OUT, fullPage: true });
  console.log(`wrote ${OUT}`);
} finally {
  await chromium.close();
  await ca.close();
  await rm(root, { recursive: true, force: true });
}
