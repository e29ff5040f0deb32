// IP addresses as subjectAltName iPAddress entries carry them: 4 or 16 network-order bytes, and
// back to text (dotted IPv4, RFC 5952 compressed IPv6) for parsed certificates and CSRs.
import { isIPv4, isIPv6 } from 'node:net';
import { invalidInput } from '../errors.js';

/** The 4 (IPv4) or 16 (IPv6) bytes of a textual address; zone IDs (`%eth0`) are refused. */
export function ipToBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (isIPv6(ip) && !ip.includes('%')) return ipv6Bytes(ip);
  throw invalidInput(
    'PKI_IP_ADDRESS_INVALID',
    `"${ip}" is not an IP address; give an IPv4 address (10.0.0.1) or an IPv6 address (fd00::1) without a zone`,
  );
}

function ipv6Bytes(ip: string): Buffer {
  let text = ip;
  // A trailing dotted quad (`::ffff:1.2.3.4`) stands for the last two groups: rewrite it as hex.
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const [a, b, c, d] = text
      .slice(lastColon + 1)
      .split('.')
      .map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16));
  const gap = text.indexOf('::');
  let groups: number[];
  if (gap === -1) {
    groups = parse(text);
  } else {
    const head = parse(text.slice(0, gap));
    const tail = parse(text.slice(gap + 2));
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const out = Buffer.alloc(16);
  groups.forEach((group, i) => {
    out.writeUInt16BE(group, i * 2);
  });
  return out;
}

/** Text form of SAN iPAddress bytes; undefined for any other length (e.g. a name-constraint mask). */
export function formatIp(bytes: Uint8Array): string | undefined {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) return undefined;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
