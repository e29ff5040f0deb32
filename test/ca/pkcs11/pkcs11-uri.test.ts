// RFC 7512 URIs as meshca reads them: the attributes it uses, percent-decoding, and refusals that
// name the URI without its PIN and say what to write instead.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePkcs11Uri, redactPkcs11Uri } from '../../../src/ca/pkcs11/pkcs11-uri.js';
import { isMeshcaError } from '../../../src/errors.js';

const MODULE = 'module-path=/usr/lib/softhsm/libsofthsm2.so';

function refusal(text: string): string {
  try {
    parsePkcs11Uri(text);
  } catch (err) {
    assert.ok(isMeshcaError(err));
    assert.equal(err.code, 'PKCS11_URI_INVALID');
    return err.message;
  }
  assert.fail(`${text} was accepted`);
}

describe('parsePkcs11Uri', () => {
  it('reads the path and query attributes meshca uses', () => {
    const uri = parsePkcs11Uri(
      `pkcs11:token=mesh%20ca;serial=0123;object=cluster1-ca;id=%01%ff;type=private?${MODULE}&pin-source=file:/run/meshca/pin`,
    );
    assert.equal(uri.token, 'mesh ca');
    assert.equal(uri.serial, '0123');
    assert.equal(uri.object, 'cluster1-ca');
    assert.deepEqual(uri.id, Buffer.from([1, 255]));
    assert.equal(uri.modulePath, '/usr/lib/softhsm/libsofthsm2.so');
    assert.equal(uri.pinSource, '/run/meshca/pin');
    assert.equal(uri.pinValue, undefined);
  });

  it('takes pin-source as file:///path or a bare absolute path too', () => {
    assert.equal(
      parsePkcs11Uri(`pkcs11:object=a?${MODULE}&pin-source=file:///run/pin`).pinSource,
      '/run/pin',
    );
    assert.equal(parsePkcs11Uri(`pkcs11:object=a?${MODULE}&pin-source=/run/pin`).pinSource, '/run/pin');
  });

  it('keeps the PIN out of the form shown in messages', () => {
    const text = `pkcs11:token=t;object=a?${MODULE}&pin-value=1234`;
    const uri = parsePkcs11Uri(text);
    assert.equal(uri.pinValue, '1234');
    assert.equal(uri.display, `pkcs11:token=t;object=a?${MODULE}`);
    assert.equal(redactPkcs11Uri('pkcs11:object=a?pin-value=1234'), 'pkcs11:object=a');
    assert.doesNotMatch(refusal('pkcs11:object=a;colour=red?pin-value=1234'), /1234/);
  });

  it('refuses what it cannot use, saying what to write', () => {
    assert.equal(
      refusal('pkcs11:token=t;object=a'),
      'pkcs11:token=t;object=a: module-path is missing; add ?module-path=/path/to/the/module.so (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so)',
    );
    assert.equal(
      refusal(`pkcs11:token=t?${MODULE}`),
      `pkcs11:token=t?${MODULE}: name the key with object=LABEL (or id=%HH…)`,
    );
    assert.equal(
      refusal(`pkcs11:object=a;type=cert?${MODULE}`),
      `pkcs11:object=a;type=cert?${MODULE}: type=cert: meshca signs with a private key; drop type= or write type=private`,
    );
    assert.match(refusal(`pkcs11:object=a;colour=red?${MODULE}`), /unknown path attribute "colour"/);
    assert.match(refusal(`pkcs11:object=a;object=b?${MODULE}`), /"object" is given twice/);
    assert.match(refusal(`pkcs11:object=a%zz?${MODULE}`), /object has a "%" not followed by two hex digits/);
    assert.match(refusal(`pkcs11:object=a?${MODULE}&pin-source=pin.txt`), /give an absolute file path/);
    assert.match(refusal('/usr/lib/softhsm/libsofthsm2.so'), /a PKCS#11 URI starts with "pkcs11:"/);
  });

  it('lets vendor attributes (x-…) through', () => {
    assert.equal(parsePkcs11Uri(`pkcs11:object=a;x-vendor=1?${MODULE}&x-other=2`).object, 'a');
  });
});
