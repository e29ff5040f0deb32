import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newSerial } from '../../src/pki/new-serial.js';

// A serial whose first byte is 0x80 or more gets a 00 sign byte in DER; the hex the issuer reports
// (logs, the issuance log, the dashboard's search) must still be what openssl x509 -serial prints.
test('the hex of a new serial is its magnitude, without the DER sign byte, for every draw', () => {
  let padded = 0;
  for (let i = 0; i < 20_000; i++) {
    const { der, hex } = newSerial();
    assert.equal(der[0], 0x02, 'an INTEGER');
    const content = der.subarray(2, 2 + der[1]!);
    assert.ok(content[0]! < 0x80, 'positive');
    if (content.length > 1 && content[0] === 0) padded++;
    assert.match(hex, /^[0-9A-F]+$/);
    assert.ok(!hex.startsWith('00'), `no sign byte in ${hex}`);
    assert.equal(BigInt(`0x${hex}`), BigInt(`0x${content.toString('hex')}`));
  }
  // 20,000 draws hit the 1-in-512 padded case with near certainty (a miss: about e^-39).
  assert.ok(padded > 0, 'some serials needed the sign byte');
});
