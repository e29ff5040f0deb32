// The embedded token issuer, trusted through its own JWKS, passes the TokenVerifier conformance suite.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ISSUER_KEY_FILE, loadOrCreateTokenIssuer } from '../../src/identity/token-issuer.js';
import { createTokenVerifier, ISTIO_CA_AUDIENCE } from '../../src/identity/token-verifier.js';
import { readPrivateKey } from '../../src/pki/keys.js';
import { runTokenVerifierConformance } from './token-verifier.conformance.js';

runTokenVerifierConformance('embedded token issuer', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'meshca-identity-'));
  const issuer = await loadOrCreateTokenIssuer(join(dir, 'issuer'));
  const jwks = issuer.jwks();
  return {
    verifier: createTokenVerifier([{ issuer: issuer.issuer, audiences: [ISTIO_CA_AUDIENCE], jwks }]),
    issuer: issuer.issuer,
    audience: ISTIO_CA_AUDIENCE,
    signingKey: readPrivateKey(await readFile(join(dir, 'issuer', ISSUER_KEY_FILE), 'utf8')),
    alg: 'ES256',
    kid: jwks.keys[0]?.kid,
    mintServiceAccountToken: (opts) => issuer.mint(opts),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
