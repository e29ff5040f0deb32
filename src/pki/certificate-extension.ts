// One X.509 Extension in DER (RFC 5280 4.1: extnID, critical, extnValue), for the hot-path leaf
// profiles; CA certificates build theirs with pkijs (x509-extensions.ts).
import { boolean, octetString, oid, sequence } from './der-writer.js';

/** Builds one extension; `value` is the DER that goes inside extnValue's OCTET STRING. */
export function extension(extnId: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? sequence(oid(extnId), boolean(true), octetString(value))
    : sequence(oid(extnId), octetString(value));
}
