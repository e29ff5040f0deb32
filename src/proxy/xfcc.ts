// The X-Forwarded-Client-Cert header in Envoy's format, so applications written for istio-proxy
// read ours unchanged: `By=<own id>;Hash=<sha256 of peer leaf>;Subject="";URI=<peer id>`.

export const XFCC_HEADER = 'x-forwarded-client-cert';

/** One proxy's element of the header. Keys are Envoy's; `Cert` and `Chain` hold URL-encoded PEM. */
export interface XfccElement {
  by?: string;
  hash?: string;
  cert?: string;
  chain?: string;
  subject?: string;
  uri?: string;
  dns?: string[];
}

// Envoy's key spelling, in the order Envoy writes them.
const KEYS: ReadonlyArray<[keyof XfccElement, string]> = [
  ['by', 'By'],
  ['hash', 'Hash'],
  ['cert', 'Cert'],
  ['chain', 'Chain'],
  ['subject', 'Subject'],
  ['uri', 'URI'],
  ['dns', 'DNS'],
];

function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function formatValue(key: keyof XfccElement, value: string): string {
  // Envoy always quotes Subject (it is a DN full of commas and equals signs, or empty).
  return key === 'subject' || /[,;="\\]/.test(value) ? quote(value) : value;
}

function formatElement(element: XfccElement): string {
  const pairs: string[] = [];
  for (const [key, name] of KEYS) {
    const value = element[key];
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) pairs.push(`${name}=${formatValue(key, one)}`);
  }
  return pairs.join(';');
}

/** The header value for one element, or several joined with "," (the first proxy's first). */
export function formatXfcc(elements: XfccElement | XfccElement[]): string {
  return (Array.isArray(elements) ? elements : [elements]).map(formatElement).join(',');
}

/** Splits `text` on `separator` where it is outside double quotes; quotes stay for unquote(). */
function splitOutsideQuotes(text: string, separator: string): string[] {
  const pieces: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted && ch === '\\' && i + 1 < text.length) {
      current += ch + text[++i];
    } else if (ch === '"') {
      quoted = !quoted;
      current += ch;
    } else if (!quoted && ch === separator) {
      pieces.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  pieces.push(current);
  return pieces;
}

function unquote(value: string): string {
  const trimmed = value.trim();
  if (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')) {
    return trimmed.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return trimmed;
}

/**
 * Parses a header value into its elements. Keys are matched case-insensitively as Envoy does;
 * unknown keys are skipped so that a newer proxy's additions do not break older readers.
 */
export function parseXfcc(header: string): XfccElement[] {
  const elements: XfccElement[] = [];
  for (const rawElement of splitOutsideQuotes(header, ',')) {
    if (rawElement.trim() === '') continue;
    const element: XfccElement = {};
    for (const pair of splitOutsideQuotes(rawElement, ';')) {
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      const name = pair.slice(0, eq).trim().toLowerCase();
      const value = unquote(pair.slice(eq + 1));
      const key = KEYS.find(([, spelled]) => spelled.toLowerCase() === name)?.[0];
      if (key === 'dns') element.dns = [...(element.dns ?? []), value];
      else if (key) element[key] = value;
    }
    elements.push(element);
  }
  return elements;
}
