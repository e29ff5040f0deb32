// Reaching a token: the module loaded, the slot whose token the URI names, and one logged-in
// session. PKCS#11 login belongs to the application, not to a session, so while this session stays
// open every other session to the token may use the private keys too.
import type * as Pkcs11js from 'pkcs11js';
import { configError } from '../../errors.js';
import { acquireModule, type Pkcs11Module, pkcs11ErrorName, releaseModule } from './pkcs11-module.js';
import type { Pkcs11Uri } from './pkcs11-uri.js';
import { readTokenPin } from './read-token-pin.js';

export interface TokenSession {
  readonly uri: Pkcs11Uri;
  readonly module: Pkcs11Module;
  /** The module generation this session belongs to. */
  readonly generation: number;
  readonly slot: Pkcs11js.Handle;
  /** Read-write and logged in as the user. */
  readonly session: Pkcs11js.Handle;
  /** Opens another (read-only) session to the same token. */
  openSession(): Pkcs11js.Handle;
  closeSession(handle: Pkcs11js.Handle): void;
  /** Closes every session of this token (which logs out) and lets go of the module. */
  close(): void;
}

const trimmed = (value: string) => value.replace(/[\s\0]+$/, '');

function findSlot(uri: Pkcs11Uri, module: Pkcs11Module): Pkcs11js.Handle {
  const { lib } = module;
  const seen: string[] = [];
  const matches: Pkcs11js.Handle[] = [];
  for (const slot of lib.C_GetSlotList(true)) {
    const info = lib.C_GetTokenInfo(slot);
    const label = trimmed(info.label);
    const serial = trimmed(info.serialNumber);
    // Uninitialized tokens (SoftHSM's free slot) have no label and cannot hold our key.
    if (label !== '') seen.push(`"${label}" (serial ${serial})`);
    if (uri.token !== undefined && label !== uri.token) continue;
    if (uri.serial !== undefined && serial !== uri.serial) continue;
    if (uri.manufacturer !== undefined && trimmed(info.manufacturerID) !== uri.manufacturer) continue;
    if (uri.model !== undefined && trimmed(info.model) !== uri.model) continue;
    if (label === '' && uri.token === undefined) continue;
    matches.push(slot);
  }
  if (matches.length === 0) {
    throw configError(
      'PKCS11_TOKEN_NOT_FOUND',
      `${uri.display}: no token matches (module ${uri.modulePath} has ${seen.length === 0 ? 'no initialized token' : `tokens ${seen.join(', ')}`}); check token= and serial=, or initialize the token (softhsm2-util --init-token --free --label NAME)`,
    );
  }
  if (matches.length > 1) {
    throw configError(
      'PKCS11_TOKEN_AMBIGUOUS',
      `${uri.display}: ${matches.length} tokens match (${seen.join(', ')}); add serial= to name one`,
    );
  }
  return matches[0]!;
}

function login(uri: Pkcs11Uri, module: Pkcs11Module, session: Pkcs11js.Handle, pin: string): void {
  try {
    module.lib.C_Login(session, module.binding.CKU_USER, pin);
  } catch (err) {
    const name = pkcs11ErrorName(err);
    if (name === 'CKR_USER_ALREADY_LOGGED_IN') return;
    const why =
      name === 'CKR_PIN_INCORRECT'
        ? 'the PIN is wrong; put the user PIN of this token in the pin-source file'
        : name === 'CKR_PIN_LOCKED'
          ? 'the PIN is locked after too many wrong tries; have the security officer unlock it (softhsm2-util/pkcs11-tool --init-pin)'
          : 'check the PIN in the pin-source file and that the token is initialized';
    throw configError(
      'PKCS11_LOGIN_FAILED',
      `${uri.display}: logging in to the token failed (${name}): ${why}`,
      err,
    );
  }
}

/** Loads the module, finds the token, logs in. Throws a `config` error naming the URI (never the PIN). */
export async function openTokenSession(uri: Pkcs11Uri, allowPinValue: boolean): Promise<TokenSession> {
  // The module first: without pkcs11js or the module, nothing about the PIN matters yet.
  const module = acquireModule(uri);
  let pin: string;
  try {
    pin = await readTokenPin(uri, allowPinValue);
  } catch (err) {
    releaseModule(module);
    throw err;
  }
  const { lib, binding } = module;
  const generation = module.generation;
  const opened = new Set<Pkcs11js.Handle>();
  const closeSession = (handle: Pkcs11js.Handle) => {
    if (!opened.delete(handle)) return;
    // After a re-initialization the old handles are gone, and their numbers may be reused by new sessions.
    if (module.generation !== generation) return;
    try {
      lib.C_CloseSession(handle);
    } catch {}
  };
  const release = () => {
    for (const handle of [...opened]) closeSession(handle);
    releaseModule(module);
  };
  try {
    const slot = findSlot(uri, module);
    const open = (flags: number) => {
      const handle = lib.C_OpenSession(slot, binding.CKF_SERIAL_SESSION | flags);
      opened.add(handle);
      return handle;
    };
    const session = open(binding.CKF_RW_SESSION);
    login(uri, module, session, pin);
    return {
      uri,
      module,
      generation,
      slot,
      session,
      openSession: () => open(0),
      closeSession,
      close: release,
    };
  } catch (err) {
    release();
    throw err;
  }
}
