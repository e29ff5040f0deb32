// `meshca demo custom-ca --kubernetes` as a user runs it: a real API server, a real cert-manager,
// the task's ClusterIssuers and commands, meshca as RA over the CSR API; foo → foo works, foo → bar
// is refused with CERTIFICATE_VERIFY_FAILED, and nothing is left behind.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { assertPortsClosed, startDemo } from '../support/demo-process.js';
import { peerBinary } from '../support/peers.js';

// The peers are built (or this file fails) before the demo runs.
for (const [peer, bin] of [['etcd'], ['kubernetes', 'kube-apiserver'], ['cert-manager']] as const)
  peerBinary(peer, bin);

describe('meshca demo custom-ca --kubernetes', () => {
  test("runs Istio's Kubernetes CSR task with cert-manager, end to end", { timeout: 400_000 }, async () => {
    const demo = startDemo(['custom-ca', '--kubernetes'], 300_000);
    const [, workDir] = await demo.waitFor(/Working in (\S+)/);
    const code = await demo.exited;
    const out = demo.output();
    assert.equal(code, 0, out);
    assert.match(out, /cert-manager's controllers running \(pid \d+\), CSR signers enabled/);
    assert.match(
      out,
      /^\$ export FOOCA=\$\(kubectl get clusterissuers foo -o jsonpath='\{\.spec\.ca\.secretName\}' \| xargs kubectl get secret -n cert-manager -o jsonpath='\{\.data\.ca\\\.crt\}' \| base64 -d \| sed 's\/\^\/ {8}\/'\)$/m,
    );
    assert.match(out, /^\$ meshca serve --kubeconfig \S+ --config istio\.yaml /m);
    assert.match(
      out,
      /✓ the CA forwards CSRs to the Kubernetes CSR API for the three signers — clusterissuers\.cert-manager\.io\/istio-system, clusterissuers\.cert-manager\.io\/foo, clusterissuers\.cert-manager\.io\/bar/,
    );
    assert.match(out, /✓ sleep\.foo → httpbin\.foo: HTTP 200 and the Moby-Dick page — HTTP 200/);
    assert.match(
      out,
      /✓ sleep\.foo → httpbin\.bar: refused with CERTIFICATE_VERIFY_FAILED \(foo and bar have different ClusterIssuers\) — HTTP 503, CERTIFICATE_VERIFY_FAILED/,
    );
    assert.match(
      out,
      /✓ httpbin\.bar's root-cert\.pem is bar's root only — 1 certificate, the one in bar-ca\.pem/,
    );
    assert.match(out, /✓ meshca deleted every CertificateSigningRequest it made — none left/);
    assert.match(out, /All 9 checks passed in [\d.]+ s\./);
    assert.doesNotMatch(out, /✗/);
    assert.equal(existsSync(workDir!), false, 'the temporary directory is removed');
    await assertPortsClosed(out);
  });
});
