// Keys in a real SoftHSM2 token through openPkcs11CaKey and generatePkcs11Key: each supported key
// type signs what node:crypto verifies, many concurrent signatures share the session pool, a CA
// key is never generated over an existing one, and a URI that matches two keys is refused.
import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { generatePkcs11Key } from '../../../src/ca/pkcs11/generate-pkcs11-key.js';
import { openPkcs11CaKey } from '../../../src/ca/pkcs11/pkcs11-ca-key.js';
import { isMeshcaError } from '../../../src/errors.js';
import { describeKey } from '../../../src/pki/keys.js';
import type { KeyType } from '../../../src/pki/types.js';
import { makeSoftHsm } from '../../support/softhsm.js';

// SoftHSM2 reads its configuration when the module is initialized, once for this test process.
const hsm = makeSoftHsm();
process.env.SOFTHSM2_CONF = hsm.conf;
after(() => hsm.remove());
const ref = (object: string) => ({ uri: hsm.uri(object), allowPinValue: false });

describe('keys in a PKCS#11 token', () => {
  const cases: [KeyType, string, 'sha256' | 'sha384'][] = [
    ['ec-p256', 'EC P-256', 'sha256'],
    ['ec-p384', 'EC P-384', 'sha384'],
    ['rsa-2048', 'RSA 2048', 'sha256'],
  ];
  for (const [keyType, description, digest] of cases) {
    it(`${description}: made in the token, its signatures verify`, async () => {
      const key = await generatePkcs11Key(ref(`key-${keyType}`), keyType);
      try {
        assert.equal(describeKey(key.publicKey), description);
        const data = Buffer.from(`to be signed by ${keyType}`);
        assert.ok(verify(digest, data, key.publicKey, await key.sign(data)));
        assert.deepEqual(key.health(), { ok: true });
      } finally {
        await key.close();
      }
      // Opened again by URI alone, it is the same key.
      const again = await openPkcs11CaKey(ref(`key-${keyType}`));
      try {
        assert.equal(describeKey(again.publicKey), description);
      } finally {
        await again.close();
      }
    });
  }

  it('signs 200 requests at once through a pool of a few sessions', async () => {
    const key = await openPkcs11CaKey(ref('key-ec-p256'));
    try {
      const inputs = Array.from({ length: 200 }, (_, i) => Buffer.from(`request ${i}`));
      const signatures = await Promise.all(inputs.map((data) => key.sign(data)));
      signatures.forEach((signature, i) => {
        assert.ok(verify('sha256', inputs[i]!, key.publicKey, signature), `signature ${i}`);
      });
    } finally {
      await key.close();
    }
  });

  it('never makes a key over an existing one with the same label', async () => {
    await assert.rejects(generatePkcs11Key(ref('key-ec-p256'), 'ec-p256'), (err) => {
      assert.ok(isMeshcaError(err));
      assert.equal(err.code, 'PKCS11_KEY_EXISTS');
      assert.match(err.message, /meshca never replaces a CA key: pick another object= name/);
      return true;
    });
  });

  it('refuses a URI that matches several keys, asking for id=', async () => {
    hsm.pkcs11Tool(['--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'twice', '--id', '21']);
    hsm.pkcs11Tool(['--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'twice', '--id', '22']);
    await assert.rejects(openPkcs11CaKey(ref('twice')), (err) => {
      assert.ok(isMeshcaError(err));
      assert.equal(err.code, 'PKCS11_KEY_AMBIGUOUS');
      assert.equal(
        err.message,
        `${hsm.uri('twice')}: 2 private keys in the token match object=twice; add id= (or a label of its own) to name one`,
      );
      return true;
    });
    const one = await openPkcs11CaKey({
      uri: hsm.uri('twice').replace(';object=twice', ';object=twice;id=%22'),
      allowPinValue: false,
    });
    await one.close();
  });
});
