// One attribute of a distinguished name in the one-line form meshca prints (`CN=Root CA`), shared by
// the certificate reader (x509-name.ts) and the CSR reader (parse-csr.ts) so both subjects compare as text.
import { ATTRIBUTE_NAMES } from './x509-oids.js';

/** RFC 4514 escaping of the characters that would make the one-line form ambiguous. */
function escapeValue(value: string): string {
  let out = value.replace(/[\\,+"<>;]/g, (c) => `\\${c}`);
  out = out.replace(
    /[\x00-\x1f\x7f]/g,
    (c) => `\\${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  );
  if (out.startsWith('#') || out.startsWith(' ')) out = `\\${out}`;
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

/**
 * `NAME=value` with OpenSSL's short name for `oid` (the dotted OID when it has none): `value` is the
 * decoded text of a string value (escaped), or the DER of any other value (written `#hex`).
 */
export function formatAttribute(oid: string, value: string | Uint8Array): string {
  const text = typeof value === 'string' ? escapeValue(value) : `#${Buffer.from(value).toString('hex')}`;
  return `${ATTRIBUTE_NAMES[oid] ?? oid}=${text}`;
}
