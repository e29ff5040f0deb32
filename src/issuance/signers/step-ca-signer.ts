// The step-ca Signer backend: forwards the RA's checked CSR to smallstep's step-ca (/1.0/sign) with a
// one-time token from a JWK or X5C provisioner, as cert-manager's step-issuer does for a StepClusterIssuer.
import { Agent } from 'node:https';
import { caUnusable, configError, internalError } from '../../errors.js';
import { decodePem } from '../../pki/pem.js';
import { checkTtlSeconds } from '../../pki/validity-window.js';
import type { SignedChain, Signer, SignRequest } from './signer.js';
import { answerError, stepCaMessage } from './step-ca/answer-error.js';
import { cancelled, httpsJson } from './step-ca/https-json.js';
import { loadJwkProvisionerKey } from './step-ca/load-jwk-provisioner-key.js';
import { parseSignResponse, readPemCertificates } from './step-ca/parse-sign-response.js';
import { type ProvisionerTokenOptions, signProvisionerToken } from './step-ca/provisioner-token.js';
import { readX5cCredentials } from './step-ca/read-x5c-credentials.js';

export type StepCaProvisionerConfig =
  /** A JWK provisioner: its key is fetched from step-ca and decrypted with `password`. */
  | { kind: 'JWK'; name: string; kid: string; password: string }
  /** An X5C provisioner: tokens are signed by meshca's own key, its chain (leaf first) in the `x5c` header. */
  | { kind: 'X5C'; name: string; certChainPem: string; keyPem: string };

export interface StepCaSignerOptions {
  /** Istio signer name, e.g. `stepclusterissuers.certmanager.step.sm/bar`. */
  name: string;
  /** step-ca's base URL, e.g. `https://ca.internal:9000`. */
  url: string;
  /** PEM roots trusted for step-ca's own TLS certificate (usually step-ca's root). */
  caBundlePem: string;
  provisioner: StepCaProvisionerConfig;
  /** Bound on each HTTP exchange with step-ca; default 60 s. */
  timeoutMs?: number;
  /** Clock for token times; tests inject one. */
  now?: () => Date;
}

const DEFAULT_TIMEOUT_MS = 60_000;

type TokenKey = Pick<ProvisionerTokenOptions, 'key' | 'alg' | 'header'>;

function checkedUrl(url: string, signer: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw configError(
      'RA_STEP_URL_INVALID',
      `signer ${signer}: "${url}" is not a URL; give step-ca's https:// address`,
      err,
    );
  }
  if (parsed.protocol !== 'https:' || parsed.search || parsed.hash) {
    throw configError(
      'RA_STEP_URL_INVALID',
      `signer ${signer}: "${url}" is not an https:// base URL; step-ca serves only HTTPS, e.g. https://ca.internal:9000`,
    );
  }
  return parsed.href.replace(/\/+$/, '');
}

function checkedBundle(pem: string, signer: string): string {
  let ok = false;
  try {
    ok = decodePem(pem, 'caBundle').some((b) => b.type === 'CERTIFICATE');
  } catch (err) {
    throw configError(
      'RA_STEP_CA_BUNDLE_INVALID',
      `signer ${signer}: the CA bundle for step-ca is not PEM; give step-ca's root certificate`,
      err,
    );
  }
  if (!ok) {
    throw configError(
      'RA_STEP_CA_BUNDLE_INVALID',
      `signer ${signer}: the CA bundle for step-ca holds no certificate; give step-ca's root certificate`,
    );
  }
  return pem;
}

/** Resolves with `promise` unless `signal` aborts first (a shared key load must not die with one caller). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined, url: string): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(cancelled(url, signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelled(url, signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** A Signer that has step-ca sign; the options are checked now and a bad one throws a `config` MeshcaError. */
export function createStepCaSigner(opts: StepCaSignerOptions): Signer {
  const { name, provisioner } = opts;
  const url = checkedUrl(opts.url, name);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw configError(
      'RA_STEP_TIMEOUT_INVALID',
      `signer ${name}: timeout ${timeoutMs} ms is not a positive number`,
    );
  }
  const now = opts.now ?? (() => new Date());
  const caBundlePem = checkedBundle(opts.caBundlePem, name);
  // Kept-alive sockets spare a TLS handshake per CSR; an unused Agent holds no resources if a check below throws.
  const agent = new Agent({ keepAlive: true, ca: caBundlePem });

  // How tokens are signed: X5C with meshca's own key, known now; JWK with the provisioner's key, fetched
  // from step-ca and decrypted once, a failed load forgotten so that the next request tries again.
  let tokenKey: (signal: AbortSignal | undefined) => Promise<TokenKey>;
  let forgetKey = () => {};
  // step-ca finds a JWK provisioner by iss + kid, but any other kind by the audience's fragment (`#x5c/<name>`).
  let audience = `${url}/1.0/sign`;
  if (provisioner.kind === 'X5C') {
    const { certChainPem, keyPem } = provisioner;
    const creds = readX5cCredentials({ provisioner: provisioner.name, certChainPem, keyPem });
    const fixed: TokenKey = { key: creds.key, alg: creds.alg, header: { x5c: creds.x5c } };
    tokenKey = async () => fixed;
    audience = `${url}/1.0/sign#x5c/${provisioner.name}`;
  } else {
    const { kid, password } = provisioner;
    let loaded: Promise<TokenKey> | undefined;
    tokenKey = (signal) => {
      if (!loaded) {
        const loading = loadJwkProvisionerKey({
          agent,
          url,
          name: provisioner.name,
          kid,
          password,
          timeoutMs,
        }).then((k): TokenKey => ({ key: k.key, alg: k.alg, header: { kid: k.kid } }));
        loaded = loading;
        loading.catch(() => {
          if (loaded === loading) loaded = undefined;
        });
      }
      return untilAborted(loaded, signal, url);
    };
    forgetKey = () => {
      loaded = undefined;
    };
  }
  let closed = false;

  const token = async (spiffeId: string, signal: AbortSignal | undefined): Promise<string> => {
    const { key, alg, header } = await tokenKey(signal);
    return signProvisionerToken({
      key,
      alg,
      header,
      provisioner: provisioner.name,
      audience,
      spiffeId,
      now: now(),
    });
  };

  const ensureOpen = () => {
    if (closed) {
      throw internalError('RA_STEP_CLOSED', `signer ${name} was closed; it cannot be used any more`);
    }
  };

  return {
    name,

    async sign(request: SignRequest, signal?: AbortSignal): Promise<SignedChain> {
      ensureOpen();
      // step-ca reads a zero lifetime ("0s") as none given and signs its default one instead.
      checkTtlSeconds(request.ttlSeconds);
      const endpoint = `${url}/1.0/sign`;
      const answer = await httpsJson({
        agent,
        method: 'POST',
        url: endpoint,
        body: async () =>
          JSON.stringify({
            csr: request.csrPem,
            ott: await token(request.spiffeId, signal),
            notAfter: `${request.ttlSeconds}s`,
          }),
        timeoutMs,
        signal,
      });
      if (answer.status === 201 || answer.status === 200)
        return { chain: parseSignResponse(answer.json, endpoint) };
      // A refused token may mean the provisioner's key was rotated: fetch it again next time.
      if (answer.status === 401) forgetKey();
      throw answerError(
        answer,
        endpoint,
        `a certificate for ${request.spiffeId} valid ${request.ttlSeconds} s`,
      );
    },

    async roots(): Promise<string[]> {
      ensureOpen();
      const endpoint = `${url}/roots`;
      const answer = await httpsJson({ agent, method: 'GET', url: endpoint, timeoutMs });
      // step-ca answers /roots with 201 Created, oddly; accept either.
      if (answer.status !== 200 && answer.status !== 201)
        throw answerError(answer, endpoint, 'its root certificates');
      const crts = (answer.json as { crts?: unknown } | undefined)?.crts;
      if (!Array.isArray(crts)) {
        throw caUnusable(
          'RA_STEP_BAD_RESPONSE',
          `${endpoint} did not answer with step-ca's list of roots ("crts"): ${stepCaMessage(answer)}; check that the signer's URL points at step-ca`,
        );
      }
      return readPemCertificates(crts, endpoint);
    },

    async close(): Promise<void> {
      closed = true;
      agent.destroy();
    },
  };
}
