// Fetches a JWK provisioner's encrypted private key from step-ca and decrypts it with the password,
// as smallstep's step-issuer does, so meshca can sign one-time tokens for that provisioner.
import type { Agent } from 'node:http';
import { compactDecrypt, importJWK, type JWK, errors as joseErrors } from 'jose';
import { caUnusable } from '../../../errors.js';
import { answerError } from './answer-error.js';
import { httpsJson } from './https-json.js';

export interface ProvisionerSigningKey {
  key: CryptoKey | Uint8Array;
  /** JWS algorithm of the key, e.g. ES256. */
  alg: string;
  kid: string;
}

interface ListedProvisioner {
  type?: string;
  name?: string;
  key?: { kid?: string };
  encryptedKey?: string;
}

export interface LoadJwkProvisionerKeyOptions {
  agent: Agent;
  /** step-ca's base URL, without a trailing slash. */
  url: string;
  name: string;
  kid: string;
  password: string;
  timeoutMs: number;
}

// step keeps the key under PBES2 with 100 000 PBKDF2 rounds; jose refuses more than 10 000 unless told.
const MAX_PBES2_COUNT = 1_000_000;
const MAX_PAGES = 100;

/** `crv`/`kty` → JWS algorithm, for keys that do not say their `alg`. */
function algorithmOf(jwk: JWK): string | undefined {
  if (jwk.alg) return jwk.alg;
  if (jwk.kty === 'EC') return { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[jwk.crv ?? ''];
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'RSA') return 'RS256';
  return undefined;
}

async function findProvisioner(opts: LoadJwkProvisionerKeyOptions): Promise<ListedProvisioner> {
  const { url, name, kid } = opts;
  const seen: string[] = [];
  let cursor = '';
  for (let page = 0; page < MAX_PAGES; page++) {
    const endpoint = `${url}/1.0/provisioners${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`;
    const answer = await httpsJson({
      agent: opts.agent,
      method: 'GET',
      url: endpoint,
      timeoutMs: opts.timeoutMs,
    });
    if (answer.status !== 200) throw answerError(answer, endpoint, `the list of provisioners`);
    const body = answer.json as { provisioners?: unknown; nextCursor?: unknown } | undefined;
    if (!body || !Array.isArray(body.provisioners)) {
      throw caUnusable(
        'RA_STEP_BAD_RESPONSE',
        `${endpoint} did not answer with step-ca's provisioner list; check that the signer's URL points at step-ca`,
      );
    }
    for (const p of body.provisioners as ListedProvisioner[]) {
      if (p.type === 'JWK' && p.name === name && p.key?.kid === kid) return p;
      seen.push(p.type === 'JWK' ? `${p.name} (JWK, kid ${p.key?.kid})` : `${p.name} (${p.type})`);
    }
    if (typeof body.nextCursor !== 'string' || body.nextCursor === '' || body.provisioners.length === 0)
      break;
    cursor = body.nextCursor;
  }
  throw caUnusable(
    'RA_STEP_PROVISIONER_NOT_FOUND',
    `step-ca at ${url} has no JWK provisioner named "${name}" with key id "${kid}" (it has: ${seen.join(', ') || 'none'}); fix the signer's provisioner name and kid (\`step ca provisioner list\`)`,
  );
}

async function encryptedKeyOf(opts: LoadJwkProvisionerKeyOptions, p: ListedProvisioner): Promise<string> {
  if (p.encryptedKey) return p.encryptedKey;
  // Older step-ca versions leave the key out of the list and serve it on its own.
  const endpoint = `${opts.url}/1.0/provisioners/${encodeURIComponent(opts.kid)}/encrypted-key`;
  const answer = await httpsJson({
    agent: opts.agent,
    method: 'GET',
    url: endpoint,
    timeoutMs: opts.timeoutMs,
  });
  const key = (answer.json as { key?: unknown } | undefined)?.key;
  if (answer.status === 200 && typeof key === 'string' && key !== '') return key;
  if (answer.status !== 200 && answer.status !== 404)
    throw answerError(answer, endpoint, `the provisioner's key`);
  throw caUnusable(
    'RA_STEP_PROVISIONER_NO_KEY',
    `step-ca at ${opts.url} keeps no encrypted private key for provisioner "${opts.name}" (kid ${opts.kid}); meshca needs one to sign tokens: add it with \`step ca provisioner add\` or use an X5C provisioner`,
  );
}

/** Finds the provisioner by name and kid, and decrypts its private key; every failure is a `ca-unusable` MeshcaError. */
export async function loadJwkProvisionerKey(
  opts: LoadJwkProvisionerKeyOptions,
): Promise<ProvisionerSigningKey> {
  const listed = await findProvisioner(opts);
  const jwe = await encryptedKeyOf(opts, listed);
  let plaintext: Uint8Array;
  try {
    ({ plaintext } = await compactDecrypt(jwe, new TextEncoder().encode(opts.password), {
      keyManagementAlgorithms: ['PBES2-HS256+A128KW', 'PBES2-HS384+A192KW', 'PBES2-HS512+A256KW'],
      maxPBES2Count: MAX_PBES2_COUNT,
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWEDecryptionFailed) {
      throw caUnusable(
        'RA_STEP_PROVISIONER_PASSWORD',
        `the password configured for step-ca provisioner "${opts.name}" (kid ${opts.kid}) at ${opts.url} does not decrypt its key: the password is wrong; set the one given to \`step ca init\` or \`step ca provisioner add\``,
        err,
      );
    }
    throw caUnusable(
      'RA_STEP_PROVISIONER_KEY_INVALID',
      `the encrypted key of step-ca provisioner "${opts.name}" at ${opts.url} cannot be read (${(err as Error).message}); re-create the provisioner with \`step ca provisioner add\``,
      err,
    );
  }
  let jwk: JWK;
  try {
    jwk = JSON.parse(new TextDecoder().decode(plaintext)) as JWK;
  } catch (err) {
    throw caUnusable(
      'RA_STEP_PROVISIONER_KEY_INVALID',
      `the decrypted key of step-ca provisioner "${opts.name}" at ${opts.url} is not a JSON Web Key; re-create the provisioner`,
      err,
    );
  }
  const alg = algorithmOf(jwk);
  if (!alg || !jwk.d) {
    throw caUnusable(
      'RA_STEP_PROVISIONER_KEY_INVALID',
      `the decrypted key of step-ca provisioner "${opts.name}" at ${opts.url} is not a private signing key meshca can use (kty ${jwk.kty}, crv ${jwk.crv}); use an EC, Ed25519 or RSA key`,
    );
  }
  try {
    return { key: await importJWK(jwk, alg), alg, kid: opts.kid };
  } catch (err) {
    throw caUnusable(
      'RA_STEP_PROVISIONER_KEY_INVALID',
      `the decrypted key of step-ca provisioner "${opts.name}" at ${opts.url} cannot be used for ${alg} (${(err as Error).message}); re-create the provisioner`,
      err,
    );
  }
}
