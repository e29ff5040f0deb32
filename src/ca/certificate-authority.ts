// The CA in service: holds the current signing bundle, reloads it from disk on change or on demand,
// and keeps the last good bundle when a reload fails. A reload swaps one reference.
import { EventEmitter } from 'node:events';
import { internalError, isMeshcaError, type MeshcaError } from '../errors.js';
import { watchDirectory } from '../lib/watch-directory.js';
import type { KeyType } from '../pki/types.js';
import { openPkcs11CaKey, type Pkcs11CaKey, type TokenKeyRef } from './pkcs11/pkcs11-ca-key.js';
import { loadBundleFromDir } from './read-bundle-files.js';
import { loadOrCreateSelfSignedCa } from './self-signed-ca.js';
import type { SigningBundle } from './signing-bundle.js';

/**
 * Where a bundle lives besides a directory: the Kubernetes home keeps it in Secrets. `ca/` knows
 * only this shape, so the layers above do not care which home is in use.
 */
export interface BundleStore {
  /** For messages and logs, e.g. "Secret istio-system/cacerts". */
  readonly where: string;
  /** Reads (on first use creating, for a self-signed root) and verifies the bundle to serve. */
  load(now?: Date): Promise<{ bundle: SigningBundle; created: boolean }>;
  /** Calls `changed` whenever the stored bundle may have changed; returns how to stop. */
  watch(changed: () => void): { close(): void };
}

/** `caKey`: the signing key is in a PKCS#11 token (serve --ca-key), not in the directory's key file. */
export type CaMode =
  | { kind: 'plugged'; dir: string; caKey?: TokenKeyRef }
  | {
      kind: 'self-signed';
      dir: string;
      trustDomain: string;
      keyType: KeyType;
      days?: number;
      caKey?: TokenKeyRef;
    }
  | { kind: 'store'; store: BundleStore };

/** Where the bundle of `mode` comes from, for messages and logs. */
export const whereOf = (mode: CaMode): string => (mode.kind === 'store' ? mode.store.where : mode.dir);

/**
 * Shapes the bundle read from the CA's files before it goes into service: a staged root change
 * (ca/rotation/) widens the roots or swaps the signer. A throw refuses the reload like a bad file.
 */
export type BundleOverlay = (loaded: SigningBundle) => Promise<SigningBundle>;

export interface CaEvents {
  /** A new bundle is in service; `previous` is the one it replaced. `rootChanged` when the trust bundle differs. */
  bundle: [{ bundle: SigningBundle; previous: SigningBundle; rootChanged: boolean }];
  /** A reload was refused; the last good bundle keeps serving. */
  'reload-failed': [{ error: MeshcaError; dir: string }];
  /** A reload found a valid bundle identical to the one in service (e.g. a bad change reverted). */
  'reload-unchanged': [{ dir: string }];
}

export class CertificateAuthority extends EventEmitter<CaEvents> {
  #bundle: SigningBundle;
  readonly mode: CaMode;
  #watch: { close(): void } | undefined;
  #reloading: Promise<boolean> | undefined;
  readonly #overlay: BundleOverlay;
  readonly created: boolean;
  /** What an interrupted earlier run left in the self-signed CA's directory, removed on open (to log). */
  readonly removedLeftovers: readonly string[];
  /** The signing key when it is in a token: every reload signs with it; closed with the CA. */
  readonly #tokenKey: Pkcs11CaKey | undefined;

  private constructor(
    mode: CaMode,
    bundle: SigningBundle,
    created: boolean,
    removed: string[] = [],
    overlay: BundleOverlay = async (b) => b,
    tokenKey?: Pkcs11CaKey,
  ) {
    super();
    this.mode = mode;
    this.#tokenKey = tokenKey;
    this.#overlay = overlay;
    this.#bundle = bundle;
    this.created = created;
    this.removedLeftovers = Object.freeze(removed);
  }

  /** Loads the bundle for `mode` (creating the self-signed root on first start); throws if it is not usable. */
  static async open(mode: CaMode, now?: Date, overlay?: BundleOverlay): Promise<CertificateAuthority> {
    const shape = overlay ?? (async (b: SigningBundle) => b);
    if (mode.kind === 'store') {
      const { bundle, created } = await mode.store.load(now);
      return new CertificateAuthority(mode, await shape(bundle), created, [], shape);
    }
    if (mode.kind === 'plugged') {
      const key = mode.caKey ? await openPkcs11CaKey(mode.caKey) : undefined;
      try {
        const bundle = await shape(await loadBundleFromDir(mode.dir, { now, key }));
        return new CertificateAuthority(mode, bundle, false, [], shape, key);
      } catch (err) {
        await key?.close();
        throw err;
      }
    }
    const { bundle, created, removed, tokenKey } = await loadOrCreateSelfSignedCa({ ...mode, now });
    try {
      return new CertificateAuthority(mode, await shape(bundle), created, removed, shape, tokenKey);
    } catch (err) {
      await tokenKey?.close();
      throw err;
    }
  }

  /** The bundle to sign with; a request reads it once. */
  get bundle(): SigningBundle {
    return this.#bundle;
  }

  /** Re-reads the directory; resolves true when a new bundle went into service. Never throws. */
  reload(): Promise<boolean> {
    // Reloads run one at a time, so a burst of events cannot interleave two swaps.
    const run = async (): Promise<boolean> => {
      try {
        const loaded =
          this.mode.kind === 'store'
            ? (await this.mode.store.load()).bundle
            : await loadBundleFromDir(this.mode.dir, {
                source: this.mode.kind === 'self-signed' ? 'self-signed' : undefined,
                key: this.#tokenKey,
              });
        const next = await this.#overlay(loaded);
        const previous = this.#bundle;
        if (
          next.fingerprint === previous.fingerprint &&
          next.issuer.certificate.fingerprint256 === previous.issuer.certificate.fingerprint256
        ) {
          this.emit('reload-unchanged', { dir: whereOf(this.mode) });
          return false;
        }
        this.#bundle = next;
        this.emit('bundle', { bundle: next, previous, rootChanged: next.rootsPem !== previous.rootsPem });
        return true;
      } catch (err) {
        const error = isMeshcaError(err)
          ? err
          : internalError(
              'CA_RELOAD_FAILED',
              `reloading ${whereOf(this.mode)} failed: ${(err as Error).message}`,
              err,
            );
        this.emit('reload-failed', { error, dir: whereOf(this.mode) });
        return false;
      }
    };
    const chained = (this.#reloading ?? Promise.resolve(false)).then(run, run);
    this.#reloading = chained;
    return chained;
  }

  /** Starts watching the bundle's directory or store; changes are validated and swapped in. */
  watch(opts: { debounceMs?: number; pollMs?: number } = {}): void {
    const mode = this.mode;
    this.#watch ??=
      mode.kind === 'store'
        ? mode.store.watch(() => void this.reload())
        : watchDirectory(mode.dir, () => void this.reload(), opts);
  }

  close(): void {
    this.#watch?.close();
    this.#watch = undefined;
    void this.#tokenKey?.close();
  }
}
