// ECDSA r||s (what a PKCS#11 token answers) to DER (what X.509 carries): node:crypto signs r||s
// (its ieee-p1363 encoding), and every converted signature must verify as DER, across enough
// signatures that r with its high bit set (a 0x00 prefix in DER) occurs.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { it } from 'node:test';
import { isMeshcaError } from '../../src/errors.js';
import { ecdsaRawToDer } from '../../src/pki/ecdsa-signature.js';

it('turns r||s into DER that verifies, for P-256 and P-384', () => {
  for (const [namedCurve, digest] of [
    ['prime256v1', 'sha256'],
    ['secp384r1', 'sha384'],
  ] as const) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve });
    let highBit = 0;
    for (let i = 0; i < 300; i++) {
      const data = Buffer.from(`message ${i}`);
      const raw = sign(digest, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      if ((raw[0]! & 0x80) !== 0) highBit++;
      const der = ecdsaRawToDer(raw);
      assert.ok(verify(digest, data, publicKey, der), `signature ${i} verifies as DER`);
      assert.ok(
        verify(digest, data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw),
        'the raw form is what node calls ieee-p1363',
      );
    }
    assert.ok(highBit > 0, 'some r had its high bit set (a 0x00 prefix in DER)');
  }
});

it('refuses a signature that is not two equal halves', () => {
  assert.throws(
    () => ecdsaRawToDer(Buffer.alloc(63)),
    (err) => isMeshcaError(err) && err.code === 'PKI_KEY_UNSUPPORTED',
  );
});
