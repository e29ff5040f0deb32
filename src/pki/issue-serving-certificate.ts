// Issues the CA server's own TLS certificate: DNS names and IP addresses as SANs, signed by the
// same issuer as the workloads, so workloads that trust the mesh root also trust the CA endpoint.
import type { KeyObject } from 'node:crypto';
import { invalidInput } from '../errors.js';
import { ia5Bytes, oid, sequence, setOf, utf8String } from './der-writer.js';
import { ipToBytes } from './ip-address.js';
import { publicKeyOf } from './keys.js';
import { generalName, leafExtensions, subjectAltName } from './leaf-extensions.js';
import { type IssuedCertificate, signLeafCertificate } from './sign-leaf-certificate.js';
import type { Issuer } from './types.js';

export type { IssuedCertificate } from './sign-leaf-certificate.js';

const COMMON_NAME = '2.5.4.3';
// Labels of letters, digits, '-' and '_' (service names use it), an optional leading wildcard label.
const DNS_NAME =
  /^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$/;

function dnsName(name: string): Buffer {
  if (name.length > 253 || !DNS_NAME.test(name)) {
    throw invalidInput(
      'PKI_DNS_NAME_INVALID',
      `"${name}" is not a DNS name a certificate can carry; use labels of letters, digits and "-" separated by dots, e.g. meshca.istio-system.svc`,
    );
  }
  return ia5Bytes(name);
}

/**
 * Signs a serving certificate for `publicKey`. With `commonName` the subject is `CN=<commonName>`;
 * without, the subject is empty and the SAN (then the only name) is critical.
 */
export async function issueServingCertificate(opts: {
  issuer: Issuer;
  publicKey: KeyObject;
  dnsNames: string[];
  ips: string[];
  ttlSeconds: number;
  now?: Date;
  commonName?: string;
}): Promise<IssuedCertificate> {
  const { issuer, commonName } = opts;
  const names = [
    ...opts.dnsNames.map((n) => generalName.dns(dnsName(n))),
    ...opts.ips.map((ip) => generalName.ip(ipToBytes(ip))),
  ];
  if (commonName !== undefined && commonName.trim() === '') {
    throw invalidInput(
      'PKI_NAME_INVALID',
      'the serving certificate common name is empty; give it a value or leave it out',
    );
  }
  if (names.length === 0 && commonName === undefined) {
    throw invalidInput(
      'PKI_SAN_EMPTY',
      'a serving certificate needs at least one DNS name or IP address for clients to check; give the host names and addresses the CA is reached at',
    );
  }
  const subject =
    commonName === undefined
      ? sequence()
      : sequence(setOf(sequence(oid(COMMON_NAME), utf8String(commonName))));
  const publicKey = publicKeyOf(opts.publicKey);
  return signLeafCertificate({
    issuer,
    subject,
    spki: publicKey.export({ format: 'der', type: 'spki' }),
    extensions: leafExtensions(
      issuer,
      publicKey.asymmetricKeyType === 'rsa',
      // With an empty subject the SAN is the only name, so RFC 5280 4.2.1.6 wants it critical.
      names.length > 0 ? subjectAltName(names, commonName === undefined) : undefined,
    ),
    now: opts.now ?? new Date(),
    ttlSeconds: opts.ttlSeconds,
  });
}
