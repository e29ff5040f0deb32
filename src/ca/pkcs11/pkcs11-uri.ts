// RFC 7512 PKCS#11 URIs, the way operators name a CA key in a token:
// `pkcs11:token=meshca;object=cluster1-ca?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/meshca/pin`.
// Parsed here by hand (the subset meshca uses), and shown back in messages without any PIN.
import { invalidInput } from '../../errors.js';

/** What a URI says about where a key is and how to reach it. */
export interface Pkcs11Uri {
  /** The URI as given, with any pin-value removed: the only form that goes into messages and logs. */
  readonly display: string;
  /** Path attributes: which token (label, serial, manufacturer, model) and which object (label, id). */
  readonly token?: string;
  readonly serial?: string;
  readonly manufacturer?: string;
  readonly model?: string;
  readonly object?: string;
  readonly id?: Buffer;
  /** Query attributes: the module to load and where the user PIN comes from. */
  readonly modulePath: string;
  /** A file path (pin-source=file:/path or a bare absolute path). */
  readonly pinSource?: string;
  readonly pinValue?: string;
}

const PATH_ATTRIBUTES = new Set(['token', 'serial', 'manufacturer', 'model', 'object', 'id', 'type']);
const QUERY_ATTRIBUTES = new Set(['module-path', 'pin-source', 'pin-value']);

export function isPkcs11Uri(text: string): boolean {
  return text.trim().toLowerCase().startsWith('pkcs11:');
}

/** The URI without its pin-value, for messages (the PIN never appears in an error or a log line). */
export function redactPkcs11Uri(text: string): string {
  const [path, query] = splitOnce(text.trim(), '?');
  if (query === undefined) return path;
  const kept = query.split('&').filter((part) => !/^pin-value(=|$)/i.test(part));
  return kept.length > 0 ? `${path}?${kept.join('&')}` : path;
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function percentDecode(value: string, what: string, display: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c !== '%') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const hex = value.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
      throw invalidInput(
        'PKCS11_URI_INVALID',
        `${display}: ${what} has a "%" not followed by two hex digits; percent-encode bytes as %HH (RFC 7512)`,
      );
    }
    bytes.push(Number.parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(bytes);
}

/** Parses `text`; refuses what meshca cannot use, naming the URI (without its PIN) and what to change. */
export function parsePkcs11Uri(text: string): Pkcs11Uri {
  const display = redactPkcs11Uri(text);
  const bad = (why: string) => invalidInput('PKCS11_URI_INVALID', `${display}: ${why}`);
  if (!isPkcs11Uri(text)) throw bad('a PKCS#11 URI starts with "pkcs11:" (RFC 7512)');
  const [path, query] = splitOnce(text.trim().slice('pkcs11:'.length), '?');
  const attrs = new Map<string, Buffer>();
  const read = (part: string, known: Set<string>, where: string) => {
    if (part === '') return;
    const [rawName, rawValue] = splitOnce(part, '=');
    const name = rawName.toLowerCase();
    if (rawValue === undefined) throw bad(`"${rawName}" has no value; write ${rawName}=VALUE`);
    if (!known.has(name) && !name.startsWith('x-')) {
      throw bad(
        `unknown ${where} attribute "${rawName}"; meshca reads ${[...known].join(', ')} there (vendor attributes start with x-)`,
      );
    }
    if (attrs.has(name)) throw bad(`"${name}" is given twice; give it once`);
    attrs.set(name, percentDecode(rawValue, name, display));
  };
  for (const part of path.split(';')) read(part, PATH_ATTRIBUTES, 'path');
  for (const part of (query ?? '').split('&')) read(part, QUERY_ATTRIBUTES, 'query');
  const str = (name: string) => attrs.get(name)?.toString('utf8');

  const type = str('type');
  if (type !== undefined && type !== 'private') {
    throw bad(`type=${type}: meshca signs with a private key; drop type= or write type=private`);
  }
  const modulePath = str('module-path');
  if (!modulePath) {
    throw bad(
      'module-path is missing; add ?module-path=/path/to/the/module.so (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so)',
    );
  }
  const object = str('object');
  const id = attrs.get('id');
  if (object === undefined && id === undefined) {
    throw bad('name the key with object=LABEL (or id=%HH…)');
  }
  const pinSourceText = str('pin-source');
  let pinSource: string | undefined;
  if (pinSourceText !== undefined) {
    pinSource = pinSourceText.startsWith('file:') ? pinSourceText.slice('file:'.length) : pinSourceText;
    if (pinSource.startsWith('//')) pinSource = pinSource.slice(2); // file:///run/pin → /run/pin
    if (!pinSource.startsWith('/')) {
      throw bad(
        `pin-source=${pinSourceText}: give an absolute file path, e.g. pin-source=file:/run/meshca/pin`,
      );
    }
  }
  return Object.freeze({
    display,
    token: str('token'),
    serial: str('serial'),
    manufacturer: str('manufacturer'),
    model: str('model'),
    object,
    id,
    modulePath,
    pinSource,
    pinValue: str('pin-value'),
  });
}
