// Reads the certificate chain and key meshca presents to a step-ca X5C provisioner, checking them
// when the signer is made so a wrong file is a startup error rather than a failure at first sign.
import { type KeyObject, X509Certificate } from 'node:crypto';
import { type CodesOfKind, configError, isMeshcaError } from '../../../errors.js';
import { readPrivateKey } from '../../../pki/keys.js';
import { decodePem } from '../../../pki/pem.js';

export interface X5cCredentials {
  key: KeyObject;
  /** JWS algorithm fitting the key, e.g. ES256. */
  alg: string;
  /** The `x5c` header: standard base64 DER, leaf first (RFC 7515 4.1.6). */
  x5c: string[];
  leaf: X509Certificate;
}

/** The JWS algorithm step-ca (go-jose) verifies for this key type. */
function algorithmFor(key: KeyObject): string | undefined {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }[
        key.asymmetricKeyDetails?.namedCurve ?? ''
      ];
    case 'rsa':
      return 'RS256';
    case 'ed25519':
      return 'EdDSA';
    default:
      return undefined;
  }
}

function rethrowAsConfig(err: unknown, code: CodesOfKind<'config'>, what: string): never {
  const detail = isMeshcaError(err) ? err.message : (err as Error).message;
  throw configError(code, `${what}: ${detail}`, err);
}

/** Parses and cross-checks the X5C chain (leaf first) and its private key; throws `config` MeshcaErrors. */
export function readX5cCredentials(opts: {
  provisioner: string;
  certChainPem: string;
  keyPem: string;
}): X5cCredentials {
  const what = `the X5C certificate chain for step-ca provisioner "${opts.provisioner}"`;
  let certs: X509Certificate[];
  try {
    const blocks = decodePem(opts.certChainPem, 'certChainPem').filter((b) => b.type === 'CERTIFICATE');
    certs = blocks.map((b) => new X509Certificate(b.der));
  } catch (err) {
    rethrowAsConfig(err, 'RA_STEP_X5C_CHAIN_INVALID', `${what} cannot be read`);
  }
  const leaf = certs[0];
  if (!leaf) {
    throw configError(
      'RA_STEP_X5C_CHAIN_INVALID',
      `${what} holds no CERTIFICATE block; give the PEM chain, leaf first`,
    );
  }
  let key: KeyObject;
  try {
    key = readPrivateKey(opts.keyPem, 'keyPem');
  } catch (err) {
    rethrowAsConfig(
      err,
      'RA_STEP_X5C_KEY_INVALID',
      `the X5C key for step-ca provisioner "${opts.provisioner}" cannot be read`,
    );
  }
  const alg = algorithmFor(key);
  if (!alg) {
    throw configError(
      'RA_STEP_X5C_KEY_INVALID',
      `the X5C key for step-ca provisioner "${opts.provisioner}" is ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}; use EC P-256/P-384/P-521, RSA or Ed25519`,
    );
  }
  if (!leaf.checkPrivateKey(key)) {
    throw configError(
      'RA_STEP_X5C_KEY_MISMATCH',
      `the X5C key for step-ca provisioner "${opts.provisioner}" does not belong to the first certificate of its chain (${leaf.subject.replaceAll('\n', ', ')}); give the key of the leaf, and the leaf first`,
    );
  }
  return { key, alg, x5c: certs.map((c) => c.raw.toString('base64')), leaf };
}
