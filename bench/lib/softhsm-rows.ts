// The bench rows with the CA key in a PKCS#11 token: a SoftHSM2 token in the run's work directory,
// one meshca server per key type (EC P-256, RSA-2048) whose self-signed root key was made in the
// token and which signs through `--ca-key`, measured at the same in-flight levels as the file-key
// rows beside them. Without SoftHSM2 on the machine the rows are left out, saying why.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertificateAuthority } from '../../src/ca/certificate-authority.js';
import { ISSUER_JWKS_FILE, ISSUER_KEY_FILE } from '../../src/identity/token-issuer.js';
import type { KeyType } from '../../src/pki/types.js';
import type { Target } from '../loadgen.js';
import { TRUST_DOMAIN } from './fixtures.js';
import type { E2eVariant } from './results.js';
import { type RunningServer, startMeshca } from './servers.js';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const KEY_TYPES: KeyType[] = ['ec-p256', 'rsa-2048'];
/** The `ca` column of these rows: the key type and where the key is. */
const caLabel = (keyType: KeyType) => `${keyType}-softhsm2`;

export interface SoftHsmRows {
  /** Why there are no rows, when there are none. */
  unavailable?: string;
  /** The rows to measure, one per in-flight level and key type. */
  variants(
    levels: number[],
    connections: (inFlight: number) => number,
  ): Omit<E2eVariant, 'stats' | 'errors'>[];
}

/** Makes the token and the CAs, starts the servers (added to `servers` and `targets`). */
export async function startSoftHsmServers(opts: {
  work: string;
  issuerDir: string;
  servers: Record<string, RunningServer>;
  targets: Record<string, Target>;
}): Promise<SoftHsmRows> {
  if (!existsSync(MODULE)) {
    return { unavailable: `${MODULE} is missing (apt install softhsm2)`, variants: () => [] };
  }
  const dir = join(opts.work, 'softhsm');
  mkdirSync(join(dir, 'tokens'), { recursive: true, mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(
    conf,
    `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  );
  // The bench process and the servers it starts (which inherit its environment) use this token.
  process.env.SOFTHSM2_CONF = conf;
  execFileSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', 'bench', '--pin', '1234', '--so-pin', '5678'],
    {
      stdio: 'ignore',
    },
  );
  const pinFile = join(dir, 'pin');
  writeFileSync(pinFile, '1234\n', { mode: 0o600 });
  for (const keyType of KEY_TYPES) {
    const name = caLabel(keyType);
    const uri = `pkcs11:token=bench;object=${name}?module-path=${MODULE}&pin-source=file:${pinFile}`;
    const dataDir = join(opts.work, name);
    const ca = await CertificateAuthority.open({
      kind: 'self-signed',
      dir: join(dataDir, 'ca'),
      trustDomain: TRUST_DOMAIN,
      keyType,
      caKey: { uri, allowPinValue: false },
    });
    const rootsPem = ca.bundle.issuer.certificate.pem;
    ca.close();
    mkdirSync(join(dataDir, 'issuer'), { recursive: true, mode: 0o700 });
    for (const file of [ISSUER_KEY_FILE, ISSUER_JWKS_FILE])
      copyFileSync(join(opts.issuerDir, file), join(dataDir, 'issuer', file));
    const server = await startMeshca({
      name: `meshca-${name}`,
      ca: {
        keyType,
        dataDir,
        certPem: rootsPem,
        certFile: '',
        keyFile: '',
        cfsslTls: { certFile: '', keyFile: '' },
        istioCacertsDir: '',
        jwksFile: join(dataDir, 'issuer', ISSUER_JWKS_FILE),
      },
      cpus: '0',
      work: opts.work,
      extraArgs: ['--ca-key', uri],
    });
    opts.servers[server.name] = server;
    opts.targets[server.name] = { kind: 'meshca', port: server.port, rootsPem };
  }
  return {
    variants: (levels, connections) =>
      KEY_TYPES.flatMap((keyType) =>
        levels.map((concurrency) => ({
          key: `meshca-${caLabel(keyType)}@${concurrency}`,
          server: 'meshca' as const,
          ca: caLabel(keyType),
          concurrency,
          connections: connections(concurrency),
          workers: 1,
          cores: 'pinned' as const,
        })),
      ),
  };
}
