// PEM armour: decoding bundles of several blocks (CRLF, text between blocks) and encoding with
// 64-column lines, as OpenSSL writes them.
import { invalidInput } from '../errors.js';
import type { PemBlock } from './types.js';

const BEGIN = '-----BEGIN ';
const END = '-----END ';
const DASHES = '-----';
const BASE64_BODY = /^[A-Za-z0-9+/=\s]*$/;

/** A character of a PEM label as meshca reads it: A-Z, 0-9, space, "#", "-". */
function isLabelChar(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x20 ||
    code === 0x23 ||
    code === 0x2d
  );
}

/**
 * The label that starts at `from` and ends at the first "-----" (RFC 7468 labels hold no "--"), and
 * where the closing dashes end; undefined when no dashes close it. It reads label characters only,
 * so every scan is linear: the regular expression that did this backtracked in cubic time on a
 * few kilobytes of "-----BEGIN A-----" repeated, which a CSR field can carry.
 */
function readLabel(text: string, from: number): { label: string; next: number } | undefined {
  for (let i = from; i < text.length && isLabelChar(text.charCodeAt(i)); i++) {
    if (!text.startsWith(DASHES, i)) continue;
    return i === from ? undefined : { label: text.slice(from, i), next: i + DASHES.length };
  }
  return undefined;
}

/** The next block from `at`: its two labels, its body, and where it ends; undefined when none closes. */
function nextBlock(
  text: string,
  at: number,
): { type: string; endType: string; body: string; next: number } | undefined {
  for (let begin = text.indexOf(BEGIN, at); begin !== -1; begin = text.indexOf(BEGIN, begin + 1)) {
    const header = readLabel(text, begin + BEGIN.length);
    if (!header) continue;
    // The body runs to the first well-formed END line.
    for (let end = text.indexOf(END, header.next); end !== -1; end = text.indexOf(END, end + 1)) {
      const footer = readLabel(text, end + END.length);
      if (footer) {
        return {
          type: header.label,
          endType: footer.label,
          body: text.slice(header.next, end),
          next: footer.next,
        };
      }
    }
    // No END line closes this block, so none can close a later one either.
    return undefined;
  }
  return undefined;
}

/**
 * Every PEM block in `text`, in order. Text outside blocks (OpenSSL's `subject=` lines, comments)
 * is ignored. `source` names the input in error messages (a file name, "the CSR").
 */
export function decodePem(text: string, source = 'input'): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (let block = nextBlock(text, 0); block; block = nextBlock(text, block.next)) {
    const { type, body, endType } = block;
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
