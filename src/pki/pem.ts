// PEM armour: decoding bundles of several blocks (CRLF, text between blocks) and encoding with
// 64-column lines, as OpenSSL writes them.
import { invalidInput } from '../errors.js';
import type { PemBlock } from './types.js';

const BLOCK = /-----BEGIN ([A-Z0-9 #-]+)-----([\s\S]*?)-----END ([A-Z0-9 #-]+)-----/g;
const BASE64_BODY = /^[A-Za-z0-9+/=\s]*$/;

/**
 * Every PEM block in `text`, in order. Text outside blocks (OpenSSL's `subject=` lines, comments)
 * is ignored. `source` names the input in error messages (a file name, "the CSR").
 */
export function decodePem(text: string, source = 'input'): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(BLOCK)) {
    const [, type, body, endType] = match as unknown as [string, string, string, string];
    if (type !== endType) {
      throw invalidInput(
        'PKI_PEM_MALFORMED',
        `${source}: PEM block "BEGIN ${type}" is closed by "END ${endType}"; the file is damaged, export it again`,
      );
    }
    // RFC 7468 allows headers (Proc-Type, DEK-Info) only in legacy encrypted keys; refuse them clearly.
    if (body.includes(':')) {
      throw invalidInput(
        'PKI_PEM_ENCRYPTED',
        `${source}: PEM block "${type}" has headers (an encrypted key?); meshca needs an unencrypted key: decrypt it with "openssl pkey -in KEY -out KEY.plain"`,
      );
    }
    if (!BASE64_BODY.test(body)) {
      throw invalidInput('PKI_PEM_MALFORMED', `${source}: PEM block "${type}" is not valid base64`);
    }
    const der = Buffer.from(body.replace(/\s+/g, ''), 'base64');
    if (der.length === 0) {
      throw invalidInput('PKI_PEM_MALFORMED', `${source}: PEM block "${type}" is empty`);
    }
    blocks.push({ type, der });
  }
  if (blocks.length === 0) {
    throw invalidInput(
      'PKI_PEM_MALFORMED',
      `${source}: no PEM block found (expected "-----BEGIN …-----"); check that this is a PEM file and not DER or an empty file`,
    );
  }
  return blocks;
}

/** Like decodePem, but an input with no block at all gives an empty list (an empty cert-chain.pem). */
export function decodePemAllowEmpty(text: string, source = 'input'): PemBlock[] {
  return text.trim() === '' ? [] : decodePem(text, source);
}

/** `-----BEGIN type-----`, base64 in 64-column lines, `-----END type-----`, trailing newline. */
export function encodePem(type: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}
