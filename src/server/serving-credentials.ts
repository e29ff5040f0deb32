// The CA server's own TLS identity: a certificate issued by its own CA for istiod's DNS name,
// localhost, 127.0.0.1 and --host extras, renewed at half its life and whenever the CA changes.
import { generateKeyPairSync } from 'node:crypto';
import type { SecureServerOptions } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type { SigningBundle } from '../ca/signing-bundle.js';
import type { ServingIssuer } from '../issuance/signers/kubernetes-csr/serving-certificate.js';
import type { Logger } from '../log.js';
import { issueServingCertificate } from '../pki/issue-serving-certificate.js';
import { encodePrivateKeyPem } from '../pki/keys.js';

/** Istio agents dial istiod by this name and check it in the server certificate. */
export const ISTIOD_DNS_NAMES = [
  'istiod.istio-system.svc',
  'istiod.istio-system.svc.cluster.local',
  'istiod.istio-system',
  'istiod',
];
export const SERVING_CERT_TTL_SECONDS = 24 * 3600;

/**
 * grpc-js only offers client-certificate modes "none" or "required"; the CA needs "optional"
 * (token callers have none, renewing workloads present theirs), so this sets Node's TLS options
 * directly: request a certificate, let the handshake through without one, check it per call.
 */
class OptionalClientCertCredentials extends grpc.ServerCredentials {
  /** `serverOptions`: more of Node's http2/TLS server options (the connection limits). */
  constructor(options: { ca: Buffer; cert: Buffer[]; key: Buffer[] }, serverOptions: SecureServerOptions) {
    super({ ...serverOptions, requestCert: true, rejectUnauthorized: false }, options);
  }
  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
  /** New connections get these; open ones keep theirs. */
  replace(options: { ca: Buffer; cert: Buffer[]; key: Buffer[] }): void {
    this.updateSecureContextOptions(options);
  }
}

export interface ServingIdentity {
  credentials: grpc.ServerCredentials;
  /**
   * Re-issues from `bundle` and hands new connections the new certificate. Never rejects: a failed
   * renewal is logged and the current certificate stays in service until the next attempt.
   */
  renew(bundle: SigningBundle): Promise<void>;
  notAfter(): Date;
  close(): void;
}

export async function createServingIdentity(
  bundle: SigningBundle,
  opts: {
    hosts: string[];
    log: Logger;
    ttlSeconds?: number;
    serverOptions?: SecureServerOptions;
    /** Called with each new certificate before it is used (the issuance log); a rejection keeps the old one. */
    record?: (pem: string, names: string[]) => Promise<void>;
    /** Where the certificate comes from instead of `bundle` (PILOT_CERT_PROVIDER through the CSR API). */
    issuer?: ServingIssuer;
  },
): Promise<ServingIdentity> {
  const ttlSeconds = opts.ttlSeconds ?? SERVING_CERT_TTL_SECONDS;
  const dnsNames = [...new Set([...ISTIOD_DNS_NAMES, 'localhost', ...opts.hosts.filter((h) => !isIp(h))])];
  const ips = [...new Set(['127.0.0.1', ...opts.hosts.filter(isIp)])];
  let current = bundle;
  let notAfter = new Date(0);
  let timer: NodeJS.Timeout | undefined;
  // Renewals may overlap (the timer and a new bundle); only the latest one's certificate goes in.
  let latest = 0;

  const material = async (from: SigningBundle) => {
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    if (opts.issuer) {
      const remote = await opts.issuer(key, { dnsNames, ips }, ttlSeconds);
      await opts.record?.(remote.certChainPem, dnsNames);
      return {
        notAfter: remote.notAfter,
        options: {
          ca: Buffer.from(remote.rootsPem),
          cert: [Buffer.from(remote.certChainPem)],
          key: [Buffer.from(encodePrivateKeyPem(key))],
        },
      };
    }
    const issued = await issueServingCertificate({
      issuer: from.issuer,
      publicKey: key,
      dnsNames,
      ips,
      ttlSeconds,
    });
    await opts.record?.(issued.pem, [...dnsNames, ...ips]);
    return {
      notAfter: issued.notAfter,
      options: {
        ca: Buffer.from(from.rootsPem),
        cert: [Buffer.from(issued.pem + from.chainPems.join(''))],
        key: [Buffer.from(encodePrivateKeyPem(key))],
      },
    };
  };
  const first = await material(current);
  notAfter = first.notAfter;
  const credentials = new OptionalClientCertCredentials(first.options, opts.serverOptions ?? {});

  const schedule = () => {
    if (timer) clearTimeout(timer);
    // Half of the remaining life, as Istio's agents do; setTimeout caps at ~24.8 days.
    const delay = Math.min(Math.max((notAfter.getTime() - Date.now()) / 2, 1000), 2 ** 31 - 1);
    timer = setTimeout(() => void identity.renew(current), delay);
    timer.unref();
  };
  const identity: ServingIdentity = {
    credentials,
    async renew(next) {
      current = next;
      const attempt = ++latest;
      try {
        const fresh = await material(next);
        if (attempt !== latest) return;
        notAfter = fresh.notAfter;
        credentials.replace(fresh.options);
      } catch (err) {
        opts.log.error("cannot renew the CA server's own certificate; the current one stays in service", {
          event: 'serving-certificate-renewal-failed',
          reason: (err as Error).message,
          notAfter: notAfter.toISOString(),
        });
      }
      if (attempt === latest) schedule();
    },
    notAfter: () => notAfter,
    close() {
      if (timer) clearTimeout(timer);
    },
  };
  schedule();
  return identity;
}

function isIp(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}
