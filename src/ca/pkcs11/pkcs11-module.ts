// The PKCS#11 modules (shared libraries such as SoftHSM2's) loaded in this process: pkcs11js is
// loaded lazily, so users without a token never need it, and each module is loaded and initialized
// once, shared by every key that lives behind it, and finalized when the last key lets go.
import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';
import { configError } from '../../errors.js';
import type { Pkcs11Uri } from './pkcs11-uri.js';

export type Pkcs11Binding = typeof Pkcs11js;

export interface Pkcs11Module {
  readonly binding: Pkcs11Binding;
  readonly lib: Pkcs11js.PKCS11;
  readonly path: string;
  /** Grows on every re-initialization: sessions and handles of an older generation are gone. */
  generation: number;
  users: number;
}

let binding: Pkcs11Binding | undefined;
const modules = new Map<string, Pkcs11Module>();

function loadBinding(uri: Pkcs11Uri): Pkcs11Binding {
  if (binding) return binding;
  try {
    binding = createRequire(import.meta.url)('pkcs11js') as Pkcs11Binding;
    return binding;
  } catch (err) {
    throw configError(
      'PKCS11_BINDING_MISSING',
      `${uri.display}: keys in a PKCS#11 token need the optional package pkcs11js, which is not installed (${(err as Error).message.split('\n')[0]}); install it beside meshca with "npm install pkcs11js"`,
      err,
    );
  }
}

/** What a PKCS#11 error says, e.g. "CKR_PIN_INCORRECT", or the message of any other error. */
export function pkcs11ErrorName(err: unknown): string {
  const message = (err as Error)?.message ?? String(err);
  return /CKR_[A-Z_]+/.exec(message)?.[0] ?? message;
}

function initialize(module: Pkcs11Module): void {
  try {
    // OS locking: signatures run on libuv's threads, several sessions at once.
    module.lib.C_Initialize({ flags: module.binding.CKF_OS_LOCKING_OK });
  } catch (err) {
    if (pkcs11ErrorName(err) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw err;
  }
}

/** The module the URI names, loaded and initialized; `releaseModule` when done. */
export function acquireModule(uri: Pkcs11Uri): Pkcs11Module {
  const existing = modules.get(uri.modulePath);
  if (existing) {
    existing.users++;
    return existing;
  }
  const pkcs11 = loadBinding(uri);
  const lib = new pkcs11.PKCS11();
  const module: Pkcs11Module = { binding: pkcs11, lib, path: uri.modulePath, generation: 0, users: 1 };
  try {
    lib.load(uri.modulePath);
    initialize(module);
  } catch (err) {
    try {
      lib.close();
    } catch {}
    throw configError(
      'PKCS11_MODULE_UNLOADABLE',
      `${uri.display}: cannot load the PKCS#11 module ${uri.modulePath} (${pkcs11ErrorName(err)}); check module-path: it must name the token's PKCS#11 library (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so, from the softhsm2 package)`,
      err,
    );
  }
  modules.set(uri.modulePath, module);
  return module;
}

export function releaseModule(module: Pkcs11Module): void {
  module.users--;
  if (module.users > 0) return;
  modules.delete(module.path);
  try {
    module.lib.C_Finalize();
  } catch {}
  try {
    module.lib.close();
  } catch {}
}

/**
 * Finalizes and initializes the module again: the only way a module such as SoftHSM2 rescans its
 * tokens after one went away. Done once per generation, so two keys recovering at once do it once.
 */
export function reinitializeModule(module: Pkcs11Module, seenGeneration: number): void {
  if (module.generation !== seenGeneration) return;
  module.generation++;
  try {
    module.lib.C_Finalize();
  } catch {}
  initialize(module);
}
