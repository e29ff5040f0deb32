// ECDSA signatures as tokens give them (PKCS#11 CKM_ECDSA: r and s side by side, each as long as the
// curve's order) turned into what X.509 carries: the DER SEQUENCE { INTEGER r, INTEGER s }.
import { invalidInput } from '../errors.js';
import { integer, sequence } from './der-writer.js';

/** `raw` is r||s with r and s of equal length (32 bytes each for P-256, 48 for P-384). */
export function ecdsaRawToDer(raw: Uint8Array): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0) {
    throw invalidInput(
      'PKI_KEY_UNSUPPORTED',
      `an ECDSA signature of ${raw.length} bytes is not r||s of equal halves; the token answered something else`,
    );
  }
  const half = raw.length / 2;
  return sequence(integer(raw.subarray(0, half)), integer(raw.subarray(half)));
}
