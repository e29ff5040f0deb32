// The multi-line, human-readable summary of one certificate that `meshca certs inspect` prints.
import type { CertificateInfo } from './types.js';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

function iso(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}

/** "3 days", "1 day", "5 hours": days once there is at least one, hours below that. */
function span(ms: number): string {
  const days = Math.floor(ms / DAY_MS);
  if (days >= 1) return `${days} day${days === 1 ? '' : 's'}`;
  const hours = Math.floor(ms / HOUR_MS);
  return `${hours} hour${hours === 1 ? '' : 's'}`;
}

function colonHex(bytes: Buffer): string {
  return (bytes.toString('hex').toUpperCase().match(/../g) ?? []).join(':');
}

function timeLeft(cert: CertificateInfo, now: Date): string {
  const t = now.getTime();
  if (cert.notAfter.getTime() < t) return `EXPIRED ${span(t - cert.notAfter.getTime())} ago`;
  if (cert.notBefore.getTime() > t) return `NOT YET VALID, starts in ${span(cert.notBefore.getTime() - t)}`;
  return `${span(cert.notAfter.getTime() - t)} left`;
}

function caLine(cert: CertificateInfo): string {
  if (cert.isCa === undefined) return 'not stated (no basicConstraints extension)';
  const critical = cert.basicConstraintsCritical ? ', critical' : '';
  if (!cert.isCa) return `no (CA:FALSE${critical})`;
  return `yes (CA:TRUE${cert.pathLen === undefined ? '' : `, pathlen:${cert.pathLen}`}${critical})`;
}

/** Subject, issuer, serial, validity with time left, key, SANs, CA flag, key usages, fingerprint. */
export function describeCertificate(cert: CertificateInfo, now: Date = new Date()): string {
  const sans = [
    ...cert.dnsNames.map((n) => `DNS:${n}`),
    ...cert.ips.map((n) => `IP:${n}`),
    ...cert.uris.map((n) => `URI:${n}`),
    ...cert.emails.map((n) => `email:${n}`),
  ];
  const rows: [string, string][] = [
    ['Subject', cert.subject === '' ? '(empty)' : cert.subject],
    ['Issuer', cert.issuer === '' ? '(empty)' : cert.issuer],
    ['Serial', cert.serialHex],
    ['Not before', iso(cert.notBefore)],
    ['Not after', `${iso(cert.notAfter)} (${timeLeft(cert, now)})`],
    ['Key', cert.keyDescription],
    ['Signature', cert.signatureAlgorithm],
    ['SANs', sans.length === 0 ? '(none)' : `${sans.join(', ')}${cert.sanCritical ? ' (critical)' : ''}`],
    ['CA', caLine(cert)],
    [
      'Key usage',
      cert.keyUsage === undefined
        ? '(none)'
        : `${cert.keyUsage.join(', ')}${cert.keyUsageCritical ? ' (critical)' : ''}`,
    ],
    ['Ext key usage', cert.extKeyUsage === undefined ? '(none)' : cert.extKeyUsage.join(', ')],
  ];
  if (cert.subjectKeyId) rows.push(['Subject key ID', colonHex(cert.subjectKeyId)]);
  if (cert.authorityKeyId) rows.push(['Authority key ID', colonHex(cert.authorityKeyId)]);
  rows.push(['Self-signed', cert.selfSigned ? 'yes' : 'no']);
  rows.push(['SHA-256 fingerprint', cert.fingerprint256]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return `${rows.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`).join('\n')}\n`;
}
