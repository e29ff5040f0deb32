// A CA key that lives in a PKCS#11 token, as a CaKey: signatures come from the token through a
// small pool of sessions, the key never leaves it. When the token stops answering, signing fails
// as `unavailable` (never a crash), health() says why, and the key reconnects in the background
// (re-initializing the module, logging in, finding the same key again) until the token is back.
import { createHash } from 'node:crypto';
import type * as Pkcs11js from 'pkcs11js';
import { isMeshcaError, unavailable } from '../../errors.js';
import { ecdsaRawToDer } from '../../pki/ecdsa-signature.js';
import type { CaKey } from '../../pki/types.js';
import { findTokenKey, type TokenKey } from './find-token-key.js';
import { pkcs11ErrorName, reinitializeModule } from './pkcs11-module.js';
import { type Pkcs11Uri, parsePkcs11Uri } from './pkcs11-uri.js';
import { createSessionPool, type SessionPool } from './session-pool.js';
import { openTokenSession, type TokenSession } from './token-session.js';

/** How to reach a key in a token: plain data, so that it crosses to serve --workers processes. */
export interface TokenKeyRef {
  /** The RFC 7512 URI, as the operator gave it. */
  uri: string;
  /** pin-value= in the URI is accepted (MESHCA_PKCS11_ALLOW_PIN_VALUE=1, for tests). */
  allowPinValue: boolean;
}

export type KeyHealth = NonNullable<ReturnType<NonNullable<CaKey['health']>>>;

export interface Pkcs11CaKey extends CaKey {
  /** The URI without PIN, for messages. */
  readonly display: string;
  /** `EC` or `RSA`, as describeKey begins. */
  readonly algorithm: 'ec' | 'rsa';
  /** Whether the token answers; after a failure, why not. */
  health(): KeyHealth;
  close(): Promise<void>;
}

/** Sessions per key: libuv runs four native jobs at once by default, so more would only queue there. */
const POOL_SIZE = 4;
const MAX_WAITING = 1024;
const RECONNECT_INTERVAL_MS = 1000;

interface Connection {
  token: TokenSession;
  key: TokenKey;
  pool: SessionPool<Pkcs11js.Handle>;
}

async function connect(uri: Pkcs11Uri, allowPinValue: boolean): Promise<Connection> {
  const token = await openTokenSession(uri, allowPinValue);
  try {
    const key = findTokenKey(token);
    const pool = createSessionPool({
      open: () => token.openSession(),
      close: (session) => token.closeSession(session),
      size: POOL_SIZE,
      maxWaiting: MAX_WAITING,
      what: uri.display,
    });
    return { token, key, pool };
  } catch (err) {
    token.close();
    throw err;
  }
}

async function signIn(connection: Connection, session: Pkcs11js.Handle, data: Uint8Array): Promise<Buffer> {
  const { lib, binding } = connection.token.module;
  const { key } = connection;
  if (key.algorithm === 'rsa') {
    lib.C_SignInit(session, { mechanism: binding.CKM_SHA256_RSA_PKCS }, key.handle);
    const size = (key.publicKey.asymmetricKeyDetails?.modulusLength ?? 4096) / 8;
    return lib.C_SignAsync(session, Buffer.from(data), Buffer.alloc(size));
  }
  // CKM_ECDSA signs a digest (not every token has CKM_ECDSA_SHA256; SoftHSM2 2.6 has not) and
  // answers r||s, which X.509 wants as DER.
  const p384 = key.publicKey.asymmetricKeyDetails?.namedCurve === 'secp384r1';
  const digest = createHash(p384 ? 'sha384' : 'sha256')
    .update(data)
    .digest();
  lib.C_SignInit(session, { mechanism: binding.CKM_ECDSA }, key.handle);
  return ecdsaRawToDer(await lib.C_SignAsync(session, digest, Buffer.alloc(p384 ? 96 : 64)));
}

/** Opens the key `ref` names; throws a `config` error naming the URI (without PIN) when it cannot. */
export async function openPkcs11CaKey(ref: TokenKeyRef): Promise<Pkcs11CaKey> {
  const uri = parsePkcs11Uri(ref.uri);
  let connection: Connection | undefined = await connect(uri, ref.allowPinValue);
  const publicKey = connection.key.publicKey;
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  let health: KeyHealth = { ok: true };
  let timer: NodeJS.Timeout | undefined;
  let reconnecting = false;
  let closed = false;

  // What the caller (a workload, over gRPC) is told: no paths; the operator's reason is in health().
  const unavailableNow = () =>
    unavailable(
      'PKCS11_TOKEN_UNAVAILABLE',
      "the CA's signing key is unavailable: its PKCS#11 token does not answer; signing resumes when the token is back (the CA's /readyz says why)",
    );

  const reconnect = async () => {
    if (reconnecting || closed) return;
    reconnecting = true;
    try {
      const old = connection;
      connection = undefined;
      if (old) {
        await old.pool.drain();
        old.pool.closeAll();
        // SoftHSM2 and most modules rescan their tokens only when initialized again.
        reinitializeModule(old.token.module, old.token.generation);
        old.token.close();
      }
      const fresh = await connect(uri, ref.allowPinValue);
      if (closed) {
        fresh.pool.closeAll();
        fresh.token.close();
        return;
      }
      if (!fresh.key.publicKey.export({ type: 'spki', format: 'der' }).equals(spki)) {
        fresh.pool.closeAll();
        fresh.token.close();
        health = {
          ok: false,
          reason: `${uri.display}: the token is back, but the key under this URI is another key than the one in service; put the original token back or restart with the key that belongs to the certificate`,
        };
        return;
      }
      connection = fresh;
      health = { ok: true };
      clearInterval(timer);
      timer = undefined;
    } catch (err) {
      const why = isMeshcaError(err) ? err.message : `${uri.display}: ${pkcs11ErrorName(err)}`;
      health = { ok: false, reason: `the PKCS#11 token is unavailable: ${why}` };
    } finally {
      reconnecting = false;
    }
  };

  const markBroken = (err: unknown) => {
    if (!health.ok) return;
    health = {
      ok: false,
      reason: `the PKCS#11 token is unavailable: ${uri.display}: the token stopped answering (${pkcs11ErrorName(err)}); meshca reconnects every second until it is back`,
    };
    timer ??= setInterval(() => void reconnect(), RECONNECT_INTERVAL_MS).unref();
  };

  return {
    display: uri.display,
    algorithm: connection.key.algorithm,
    publicKey,
    async sign(data) {
      const current = connection;
      if (!health.ok || !current) throw unavailableNow();
      try {
        return await current.pool.use((session) => signIn(current, session, data));
      } catch (err) {
        if (isMeshcaError(err) && err.code === 'PKCS11_TOKEN_UNAVAILABLE') throw err;
        if (current === connection) markBroken(err);
        throw unavailableNow();
      }
    },
    health() {
      const current = connection;
      if (health.ok && current) {
        // A cheap question the module answers only while the token is there.
        try {
          current.token.module.lib.C_GetTokenInfo(current.token.slot);
        } catch (err) {
          markBroken(err);
        }
      }
      return health;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      const current = connection;
      connection = undefined;
      if (current) {
        await current.pool.drain();
        current.pool.closeAll();
        current.token.close();
      }
    },
  };
}
