// `meshca sidecar --no-agent`: the proxy alone, serving files another agent (Istio's pilot-agent)
// keeps; the agent's own options are refused with it, and an output directory is required.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runMeshca } from '../support/meshca-process.js';

describe('meshca sidecar --no-agent', () => {
  it('refuses agent options, naming each, with exit 2', async () => {
    const r = await runMeshca([
      'sidecar',
      '--no-agent',
      '--output-dir',
      'certs',
      '--token-file',
      'sleep.jwt',
      '--ca-addr',
      '127.0.0.1:15012',
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /--ca-addr is an agent option; with --no-agent another agent keeps the files in --output-dir/,
    );
    assert.match(r.stderr, /--token-file is an agent option/);
  });

  it('needs --output-dir (or OUTPUT_CERTS)', async () => {
    const r = await runMeshca(['sidecar', '--no-agent'], { env: { OUTPUT_CERTS: '' } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /--output-dir \(or OUTPUT_CERTS\) is required: the directory the other agent writes to/,
    );
  });

  it('is in --help', async () => {
    const r = await runMeshca(['sidecar', '--help']);
    assert.equal(r.code, 0);
    assert.match(
      r.stdout,
      /--no-agent +run only the proxy, serving the files another agent keeps in --output-dir/,
    );
  });
});
