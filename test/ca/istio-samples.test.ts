// Istio's own published sample certificates (samples/certs, copied unchanged into
// test/fixtures/istio-samples-certs, see its MANIFEST.txt): meshca loads them as plugged-in bundles,
// `meshca certs verify` accepts every sample chain openssl accepts, and the one upstream pair whose
// key does not match its certificate is refused as such.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadBundleFromDir } from '../../src/ca/read-bundle-files.js';
import { isMeshcaError } from '../../src/errors.js';
import { SAMPLES_DIR } from '../support/istio-samples.js';
import { runMeshca } from '../support/meshca-process.js';
import { openssl } from '../support/openssl.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const SAMPLES = SAMPLES_DIR;
const sample = (name: string) => join(SAMPLES, name);

/** Istio's cacerts names ← the sample files of one set. */
const SETS = {
  main: {
    'ca-cert.pem': 'ca-cert.pem',
    'ca-key.pem': 'ca-key.pem',
    'cert-chain.pem': 'cert-chain.pem',
    'root-cert.pem': 'root-cert.pem',
  },
  alt: {
    'ca-cert.pem': 'ca-cert-alt.pem',
    'ca-key.pem': 'ca-key-alt.pem',
    'cert-chain.pem': 'cert-chain-alt.pem',
    'root-cert.pem': 'root-cert-alt.pem',
  },
  'alt-2': {
    'ca-cert.pem': 'ca-cert-alt-2.pem',
    'ca-key.pem': 'ca-key-alt-2.pem',
    'cert-chain.pem': 'cert-chain-alt-2.pem',
    'root-cert.pem': 'root-cert-alt.pem',
  },
} as const;

describe('Istio sample certificates', () => {
  let tmp: TempDir;
  /** Copies a set under Istio's names (optionally with another root file) into a fresh directory. */
  const install = (set: keyof typeof SETS, roots?: string): string => {
    const dir = join(tmp.path, `${set}-${roots ?? 'own'}`);
    mkdirSync(dir);
    for (const [name, from] of Object.entries(SETS[set])) copyFileSync(sample(from), join(dir, name));
    if (roots) copyFileSync(sample(roots), join(dir, 'root-cert.pem'));
    return dir;
  };
  before(() => {
    tmp = makeTempDir('meshca-samples-');
  });
  after(() => tmp?.remove());

  it('loadBundleFromDir accepts the ca-cert / ca-key / root-cert / cert-chain set', async () => {
    const b = await loadBundleFromDir(install('main'));
    assert.equal(b.source, 'plugged-istio');
    assert.equal(b.issuer.certificate.subject, 'C=US, ST=California, L=Sunnyvale, O=Istio, CN=Istio CA');
    assert.equal(b.roots.length, 1);
    assert.equal(b.issuer.certificate.keyDescription, 'RSA 2048');
    assert.deepEqual(b.warnings, []);
  });

  it('loadBundleFromDir accepts the -alt set (Makefile-made: pathlen:0, L=cluster1)', async () => {
    const b = await loadBundleFromDir(install('alt'));
    assert.equal(b.issuer.certificate.subject, 'O=Istio, CN=Intermediate CA, L=cluster1');
    assert.equal(b.issuer.certificate.pathLen, 0);
    assert.deepEqual(b.issuer.certificate.dnsNames, ['istiod.istio-system.svc']);
    assert.deepEqual(
      b.roots.map((r) => r.subject),
      ['O=Istio, CN=Root CA'],
    );
  });

  it('both sets load with root-cert-combined.pem (both roots) as their trust bundle', async () => {
    for (const set of ['main', 'alt'] as const) {
      const b = await loadBundleFromDir(install(set, 'root-cert-combined.pem'));
      assert.equal(b.roots.length, 2, set);
    }
  });

  it('the mismatched -alt-2 pair is CA_KEY_MISMATCH: "key does not match certificate"', async () => {
    const dir = install('alt-2');
    await assert.rejects(loadBundleFromDir(dir), (err: unknown) => {
      assert.ok(isMeshcaError(err));
      assert.equal(err.code, 'CA_KEY_MISMATCH');
      assert.equal(
        err.message,
        `${dir}/ca-key.pem: key does not match certificate ${dir}/ca-cert.pem ("O=Istio, CN=Intermediate CA, L=cluster2"); put the key that belongs to this certificate there, or the certificate that belongs to this key`,
      );
      return true;
    });
  });

  it('meshca certs verify --key reports the -alt-2 pair as "key does not match certificate"', async () => {
    const r = await runMeshca(
      ['certs', 'verify', '--root', 'root-cert-alt.pem', '--key', 'ca-key-alt-2.pem', 'ca-cert-alt-2.pem'],
      { cwd: SAMPLES },
    );
    assert.equal(r.code, 1);
    assert.equal(
      r.stdout,
      `ca-cert-alt-2.pem: FAILED\n  - ${sample('ca-key-alt-2.pem')}: key does not match certificate ${sample('ca-cert-alt-2.pem')} ("O=Istio, CN=Intermediate CA, L=cluster2")\n`,
    );
    // The certificate itself is fine: only the key is wrong.
    const noKey = await runMeshca(['certs', 'verify', '--root', 'root-cert-alt.pem', 'ca-cert-alt-2.pem'], {
      cwd: SAMPLES,
    });
    assert.equal(noKey.code, 0, noKey.stdout);
  });

  // Every chain the samples hold: [roots, chain or undefined, certificate, key or undefined].
  const chains: Array<[string, string | undefined, string, string | undefined]> = [
    ['root-cert.pem', undefined, 'ca-cert.pem', 'ca-key.pem'],
    ['root-cert.pem', undefined, 'cert-chain.pem', undefined],
    ['root-cert-alt.pem', undefined, 'ca-cert-alt.pem', 'ca-key-alt.pem'],
    ['root-cert-alt.pem', undefined, 'cert-chain-alt.pem', 'ca-key-alt.pem'],
    ['root-cert-alt.pem', undefined, 'cert-chain-alt-2.pem', undefined],
    ['root-cert-combined.pem', undefined, 'cert-chain-alt.pem', undefined],
    ['root-cert-combined-2.pem', undefined, 'cert-chain.pem', undefined],
    ['root-cert.pem', undefined, 'workload-foo-cert.pem', 'workload-foo-key.pem'],
    ['root-cert.pem', undefined, 'workload-bar-cert.pem', 'workload-bar-key.pem'],
    ['root-cert.pem', 'ca-cert.pem', 'leaf-workload-foo-cert.pem', 'workload-foo-key.pem'],
    ['root-cert.pem', 'workload-bar-root-certs.pem', 'leaf-workload-bar-cert.pem', 'workload-bar-key.pem'],
    ['root-cert-combined-2.pem', 'workload-foo-root-certs.pem', 'leaf-workload-foo-cert.pem', undefined],
  ];
  for (const [roots, chain, cert, key] of chains) {
    it(`meshca certs verify OKs ${cert} (roots ${roots}${chain ? `, chain ${chain}` : ''}${key ? `, key ${key}` : ''}), as openssl does`, async () => {
      // openssl reads only the first certificate of the file; the rest goes in as untrusted.
      const untrusted = [chain, cert].filter((f): f is string => f !== undefined).map(sample);
      const theirs = await openssl([
        'verify',
        '-CAfile',
        sample(roots),
        ...untrusted.flatMap((f) => ['-untrusted', f]),
        sample(cert),
      ]);
      assert.equal(theirs.stdout, `${sample(cert)}: OK\n`, theirs.stderr);
      const args = ['certs', 'verify', '--root', roots];
      if (chain) args.push('--chain', chain);
      if (key) args.push('--key', key);
      const ours = await runMeshca([...args, cert], { cwd: SAMPLES });
      assert.equal(ours.code, 0, ours.stdout + ours.stderr);
      assert.match(ours.stdout, new RegExp(`^${cert.replaceAll('.', '\\.')}: OK \\(".+"\\)\\n$`));
    });
  }
});
