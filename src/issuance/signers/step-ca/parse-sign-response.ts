// Reads step-ca's answer to /1.0/sign: `certChain` (leaf, intermediates) in current versions, or
// `crt` + `ca` in older ones, checked to be PEM certificates before they go back to the RA.
import { caUnusable } from '../../../errors.js';
import { decodePem, encodePem } from '../../../pki/pem.js';

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

/** The chain as PEM strings, leaf first, one certificate per entry; a `ca-unusable` MeshcaError if unreadable. */
export function parseSignResponse(json: unknown, endpoint: string): string[] {
  const body = (json ?? {}) as { certChain?: unknown; crt?: unknown; ca?: unknown };
  let pems: unknown[];
  if (Array.isArray(body.certChain) && body.certChain.length > 0) pems = body.certChain;
  else if (isNonEmptyString(body.crt)) pems = isNonEmptyString(body.ca) ? [body.crt, body.ca] : [body.crt];
  else {
    throw caUnusable(
      'RA_STEP_BAD_RESPONSE',
      `${endpoint} answered without a certificate (no "certChain" or "crt"); check that the signer's URL points at step-ca`,
    );
  }
  return readPemCertificates(pems, endpoint);
}

/** Each entry's CERTIFICATE blocks as normalised PEM strings; a `ca-unusable` MeshcaError if one is not PEM. */
export function readPemCertificates(pems: readonly unknown[], endpoint: string): string[] {
  const chain: string[] = [];
  for (const pem of pems) {
    if (!isNonEmptyString(pem)) {
      throw caUnusable(
        'RA_STEP_BAD_RESPONSE',
        `${endpoint} answered with a certificate chain entry that is not a string`,
      );
    }
    let blocks: ReturnType<typeof decodePem>;
    try {
      blocks = decodePem(pem, 'certificate');
    } catch (err) {
      throw caUnusable(
        'RA_STEP_BAD_RESPONSE',
        `${endpoint} answered with a certificate chain that is not PEM (${(err as Error).message}); check step-ca's version and log`,
        err,
      );
    }
    // Re-encoding splits an entry holding several blocks and normalises line endings.
    for (const block of blocks) {
      if (block.type === 'CERTIFICATE') chain.push(encodePem('CERTIFICATE', block.der));
    }
  }
  if (chain.length === 0) {
    throw caUnusable(
      'RA_STEP_BAD_RESPONSE',
      `${endpoint} answered with no CERTIFICATE block; check step-ca's log`,
    );
  }
  return chain;
}
