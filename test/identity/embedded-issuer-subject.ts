// The embedded token issuer in a fresh directory, as a subject of the TokenVerifier conformance suite:
// trusted through its own JWKS, behind whatever `wrap` puts in front of the verifier (the token cache).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ISSUER_KEY_FILE, loadOrCreateTokenIssuer } from '../../src/identity/token-issuer.js';
import {
  createTokenVerifier,
  ISTIO_CA_AUDIENCE,
  type TokenVerifier,
} from '../../src/identity/token-verifier.js';
import { readPrivateKey } from '../../src/pki/keys.js';
import type { ConformanceSubject } from './token-verifier.conformance.js';

export async function embeddedIssuerSubject(
  wrap: (verifier: TokenVerifier) => TokenVerifier = (verifier) => verifier,
): Promise<ConformanceSubject> {
  const dir = await mkdtemp(join(tmpdir(), 'meshca-identity-'));
  const issuer = await loadOrCreateTokenIssuer(join(dir, 'issuer'));
  const jwks = issuer.jwks();
  return {
    verifier: wrap(createTokenVerifier([{ issuer: issuer.issuer, audiences: [ISTIO_CA_AUDIENCE], jwks }])),
    issuer: issuer.issuer,
    audience: ISTIO_CA_AUDIENCE,
    signingKey: readPrivateKey(await readFile(join(dir, 'issuer', ISSUER_KEY_FILE), 'utf8')),
    alg: 'ES256',
    kid: jwks.keys[0]?.kid,
    mintServiceAccountToken: (opts) => issuer.mint(opts),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
