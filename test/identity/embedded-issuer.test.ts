// The embedded token issuer, trusted through its own JWKS, passes the TokenVerifier conformance suite.
import { embeddedIssuerSubject } from './embedded-issuer-subject.js';
import { runTokenVerifierConformance } from './token-verifier.conformance.js';

runTokenVerifierConformance('embedded token issuer', () => embeddedIssuerSubject());
