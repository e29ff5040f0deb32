// The external signers the mesh configuration defines, built once each and rebuilt only when their
// definition changes, so a config reload does not drop connections or caches of unchanged signers.
import { readFile } from 'node:fs/promises';
import { configError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AnySignerDefinition } from './signer-definitions.js';
import { createKubernetesCsrSigner, type KubernetesCsrAccess } from './signers/kubernetes-csr-signer.js';
import { type LocalIssuerSigner, openLocalIssuerSigner } from './signers/local-issuer-signer.js';
import type { Signer } from './signers/signer.js';
import { createStepCaSigner } from './signers/step-ca-signer.js';

export interface SignerRegistry {
  get(name: string): Signer | undefined;
  names(): string[];
  /** Builds signers for new or changed definitions and closes the ones that went away. */
  update(definitions: readonly AnySignerDefinition[]): Promise<void>;
  close(): Promise<void>;
}

async function openSigner(
  def: AnySignerDefinition,
  opts: { log: Logger; timeoutMs: number; debounceMs?: number; kubernetesCsr?: KubernetesCsrAccess },
): Promise<Signer> {
  if (def.kind === 'KubernetesCSR') {
    if (!opts.kubernetesCsr)
      throw configError(
        'RA_KUBE_CSR_UNAVAILABLE',
        `signer ${def.name} (${def.source}) needs the Kubernetes CSR API; run meshca serve with --kubeconfig (or in a pod)`,
      );
    return createKubernetesCsrSigner({
      name: def.name,
      ...opts.kubernetesCsr,
      rootsPem: def.rootsPem,
      timeoutMs: opts.timeoutMs,
      log: opts.log,
    });
  }
  if (def.kind === 'StepClusterIssuer') {
    let password: string;
    try {
      password = (await readFile(def.provisioner.passwordFile, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw configError(
        'RA_SIGNER_PASSWORD_MISSING',
        `signer ${def.name} (${def.source}): cannot read the provisioner password ${def.provisioner.passwordFile}: ${(err as Error).message}; put the password of provisioner "${def.provisioner.name}" there`,
        err,
      );
    }
    return createStepCaSigner({
      name: def.name,
      url: def.url,
      caBundlePem: def.caBundlePem,
      provisioner: { kind: 'JWK', name: def.provisioner.name, kid: def.provisioner.kid, password },
      timeoutMs: opts.timeoutMs,
    });
  }
  return openLocalIssuerSigner({
    name: def.name,
    dir: def.secretDir,
    log: opts.log,
    debounceMs: opts.debounceMs,
  });
}

export function createSignerRegistry(opts: {
  log: Logger;
  timeoutMs: number;
  debounceMs?: number;
  /** The Kubernetes home's CSR API, for KubernetesCSR definitions. */
  kubernetesCsr?: KubernetesCsrAccess;
}): SignerRegistry {
  const signers = new Map<string, { key: string; signer: Signer }>();
  return {
    get: (name) => signers.get(name)?.signer,
    names: () => [...signers.keys()],
    async update(definitions) {
      const wanted = new Map(definitions.map((d) => [d.name, d]));
      // Open every new signer before swapping any in: one bad definition must not leave half a registry.
      const opened = new Map<string, { key: string; signer: Signer }>();
      try {
        for (const def of definitions) {
          const key = JSON.stringify(def);
          if (signers.get(def.name)?.key === key) continue;
          opened.set(def.name, { key, signer: await openSigner(def, opts) });
        }
      } catch (err) {
        await Promise.allSettled([...opened.values()].map((o) => o.signer.close()));
        throw err;
      }
      for (const [name, entry] of signers) {
        if (!wanted.has(name) || opened.has(name)) {
          signers.delete(name);
          void entry.signer.close();
        }
      }
      for (const [name, entry] of opened) signers.set(name, entry);
    },
    async close() {
      await Promise.allSettled([...signers.values()].map((e) => e.signer.close()));
      signers.clear();
    },
  };
}

export function isLocalIssuer(signer: Signer | undefined): signer is LocalIssuerSigner {
  return signer !== undefined && 'ca' in signer;
}
