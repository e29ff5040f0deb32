// The dashboard in a real headless Chromium, against the real `meshca serve` (data-directory home,
// a plugged-in bundle): the page loads without console errors, shows the root fingerprint openssl
// prints, finds a certificate just issued over gRPC by its serial, and shows a refused reload. A
// screenshot is kept in test-artifacts/ (gitignored).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCaClient } from '../../src/agent/ca-client.js';
import { makePluggedBundle, workloadCsr } from '../support/ca-server-fixture.js';
import { launchChromium, type RunningChromium } from '../support/chromium.js';
import { REPO_DIR } from '../support/cli.js';
import { killAfterTests } from '../support/kill-after-tests.js';
import { runMeshcaOk, type ServeProcess, startServe } from '../support/meshca-process.js';
import { opensslOk } from '../support/openssl.js';

const ARTIFACTS = join(REPO_DIR, 'test-artifacts');

let root: string;
let chromium: RunningChromium | undefined;
let server: ServeProcess | undefined;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'meshca-e2e-ui-'));
});
after(async () => {
  await chromium?.close();
  await server?.stop('SIGTERM');
  await rm(root, { recursive: true, force: true });
});

/** Issues one certificate through the real gRPC API with a token of the embedded issuer; its PEM file. */
async function issueOne(ca: ServeProcess, dataDir: string, rootsFile: string, ns: string, sa: string) {
  const token = (
    await runMeshcaOk(['token', '--data-dir', dataDir, '-n', ns, '--service-account', sa])
  ).stdout.trim();
  const client = createCaClient({
    address: `127.0.0.1:${ca.grpcPort}`,
    rootsPem: await readFile(rootsFile, 'utf8'),
  });
  try {
    const chain = await client.createCertificate({ csrPem: (await workloadCsr(ns, sa)).csrPem, token });
    const path = join(root, `${ns}-${sa}.pem`);
    await writeFile(path, chain[0]!);
    return path;
  } finally {
    client.close();
  }
}

describe('the dashboard at /ui', () => {
  test('root fingerprint, a just-issued certificate found by serial, a refused reload; no console errors', async () => {
    const dataDir = join(root, 'data');
    const cacerts = await makePluggedBundle(join(root, 'certs'));
    server = await startServe(['--data-dir', dataDir, '--cacerts', cacerts]);

    const leafPath = await issueOne(server, dataDir, join(cacerts, 'root-cert.pem'), 'foo', 'sleep');
    const serialText = (await opensslOk(['x509', '-in', leafPath, '-noout', '-serial'])).trim();
    const serial = serialText.replace(/^serial=/, '');
    const rootFingerprint = (
      await opensslOk(['x509', '-in', join(cacerts, 'root-cert.pem'), '-noout', '-fingerprint', '-sha256'])
    )
      .trim()
      .replace(/^sha256 Fingerprint=/i, '');

    // A bad bundle: a signing certificate that does not parse. The CA refuses it and keeps serving.
    await writeFile(
      join(cacerts, 'ca-cert.pem'),
      '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n',
    );
    const refused = await server.waitForLog((l) => l.event === 'ca-reload-failed');

    chromium = await launchChromium(killAfterTests);
    const context = chromium.browser.contexts()[0] ?? (await chromium.browser.newContext());
    const page = await context.newPage();
    await page.setViewportSize({ width: 1280, height: 900 });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    const base = `http://127.0.0.1:${server.monitoringPort}/ui`;
    const response = await page.goto(base);
    assert.equal(response?.status(), 200);

    const shownRoot = await page.locator('tr[data-role="root"] [data-fingerprint]').first().textContent();
    assert.equal(
      shownRoot,
      rootFingerprint,
      'the root fingerprint, as openssl x509 -fingerprint -sha256 prints it',
    );
    const refusedText = await page.locator('#refused-reload').textContent();
    assert.ok(refusedText?.includes(String(refused.code)), refusedText ?? '(no refused reload shown)');
    assert.ok(refusedText?.includes(String(refused.reason).slice(0, 40)), refusedText ?? '');
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

    // Search by the serial as openssl prints it (upper case): the form submits a GET.
    await page.fill('input[name="serial"]', serial);
    await Promise.all([page.waitForURL(/serial=/), page.click('#search button[type="submit"]')]);
    const wanted = serial.toLowerCase().replace(/^0+(?=.)/, '');
    const rows = page.locator('#issuance-list tr[data-serial]');
    assert.equal(await rows.count(), 1, 'exactly the certificate searched for');
    assert.equal(await rows.first().getAttribute('data-serial'), wanted);
    assert.match(
      (await rows.first().textContent()) ?? '',
      /spiffe:\/\/cluster\.local\/ns\/foo\/sa\/sleep.*token: system:serviceaccount:foo:sleep/,
    );
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-search.png'), fullPage: true });

    // A serial nobody was issued: the page says so (and still loads cleanly).
    await page.goto(`${base}?serial=abcdef`);
    assert.equal(await page.locator('#no-issuances').count(), 1);
    assert.deepEqual(problems, [], 'no console errors or warnings');
  });

  test("under --workers 2 the primary shows every worker's issuance log and says what it leaves out", async () => {
    const dataDir = join(root, 'workers');
    const cluster = await startServe(['--data-dir', dataDir, '--workers', '2']);
    try {
      const leafPath = await issueOne(cluster, dataDir, join(dataDir, 'root-cert.pem'), 'bar', 'web');
      const serial = (await opensslOk(['x509', '-in', leafPath, '-noout', '-serial']))
        .trim()
        .replace(/^serial=/, '');
      const page = await fetch(`http://127.0.0.1:${cluster.monitoringPort}/ui?serial=${serial}`);
      assert.equal(page.status, 200);
      const text = await page.text();
      assert.match(
        text,
        /--workers 2: this page shows every worker&#39;s issuance log and the root rotation/,
      );
      assert.match(text, /spiffe:\/\/cluster\.local\/ns\/bar\/sa\/web/);
      assert.doesNotMatch(text, /id="hierarchy"/, 'the primary holds no CA to show');
    } finally {
      await cluster.stop('SIGTERM');
    }
  });
});
