// A real smallstep step-ca for tests: builds it once (scripts/build-step-ca.sh), writes a hand-made
// ca.json with JWK/X5C provisioners as `step ca init` would, runs it on 127.0.0.1 and waits until healthy.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { connect, createServer, type Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CompactEncrypt, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The build script's exit code for "Go cannot be installed here"; anything else non-zero is a real failure. */
const CANNOT_INSTALL = 3;

/** Go durations (`"1h"`, `"90s"`), as step-ca's `claims` block takes them. */
export interface StepCaClaims {
  minTLSCertDuration?: string;
  maxTLSCertDuration?: string;
  defaultTLSCertDuration?: string;
}

export type StepCaProvisionerSpec =
  /** A JWK provisioner with a fresh ES256 key, stored encrypted under `password`. */
  | { type: 'JWK'; name: string; password: string; claims?: StepCaClaims }
  /** An X5C provisioner trusting `rootsPem` for the certificate chains in tokens' `x5c` headers. */
  | { type: 'X5C'; name: string; rootsPem: string; claims?: StepCaClaims };

export interface StartStepCaOptions {
  /** Where ca.json, the certificates, the template, the database and step-ca.log go. */
  dir: string;
  rootCertPem: string;
  intermediateCertPem: string;
  /** Unencrypted PEM; step-ca reads it without a password file. */
  intermediateKeyPem: string;
  provisioners: StepCaProvisionerSpec[];
  /** Use a SPIFFE X509-SVID template for leaves (default true); false keeps step-ca's default leaf template. */
  templateSpiffe?: boolean;
  /** 0 (the default) picks a free port; restarts keep it. */
  port?: number;
}

export interface StartedProvisioner {
  type: 'JWK' | 'X5C';
  name: string;
  /** JWK only: the key id (RFC 7638 thumbprint, as step does it). */
  kid?: string;
}

export interface RunningStepCa {
  /** `https://127.0.0.1:<port>` */
  url: string;
  port: number;
  rootPem: string;
  provisioners: StartedProvisioner[];
  /** step-ca's stdout and stderr, appended across restarts. */
  logFile: string;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s); safe to call twice. */
  stop(): Promise<void>;
  /** Stops it if running and starts it again on the same port, config and database. */
  restart(): Promise<void>;
}

let built: { bin?: string; reason?: string } | undefined;

/**
 * The step-ca binary, built on first use and cached in `.cache/step-ca` (keyed by the Debian package
 * version). Undefined, with the reason printed and kept for `stepCaMissingReason()`, only when Go or
 * the smallstep sources cannot be installed on this machine; a failed build throws.
 */
export function ensureStepCaBinary(): string | undefined {
  if (!built) {
    const run = spawnSync('bash', [join(REPO, 'scripts/build-step-ca.sh')], {
      cwd: REPO,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (run.status === 0) {
      built = { bin: run.stdout.trim().split('\n').pop() };
    } else if (run.status === CANNOT_INSTALL) {
      built = { reason: `step-ca cannot be built here: ${run.stderr.trim().split('\n').pop()}` };
      console.error(built.reason);
    } else {
      throw new Error(`scripts/build-step-ca.sh failed (exit ${run.status ?? run.signal}):\n${run.stderr}`);
    }
  }
  return built.bin;
}

/** Why `ensureStepCaBinary()` returned undefined, for `{ skip: reason }`. */
export function stepCaMissingReason(): string | undefined {
  return built?.reason;
}

const running = new Set<ChildProcess>();
// A last resort for a test that forgot its `after` hook: no step-ca outlives the test process.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP address for a free port');
  return address.port;
}

// The SPIFFE X509-SVID profile: no subject, the single URI SAN from the token, an end-entity cert for mTLS.
const SPIFFE_TEMPLATE = `{
  "subject": {},
  "sans": {{ toJson .SANs }},
  "keyUsage": ["digitalSignature"],
  "extKeyUsage": ["serverAuth", "clientAuth"],
  "basicConstraints": { "isCA": false }
}
`;

/** A JWK provisioner entry exactly as `step ca init` writes it: public key plus the private key as a PBES2 JWE. */
async function jwkProvisioner(name: string, password: string): Promise<{ entry: object; kid: string }> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const { kty, crv, x, y, d } = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint({ kty, crv, x, y } as JWK, 'sha256');
  const publicJwk = { use: 'sig', kty, kid, crv, alg: 'ES256', x, y };
  const encryptedKey = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify({ ...publicJwk, d })))
    .setProtectedHeader({ alg: 'PBES2-HS256+A128KW', enc: 'A256GCM', cty: 'jwk+json' })
    .setKeyManagementParameters({ p2c: 100_000, p2s: randomBytes(16) })
    .encrypt(new TextEncoder().encode(password));
  return { entry: { type: 'JWK', name, key: publicJwk, encryptedKey }, kid };
}

async function waitHealthy(
  url: string,
  rootPem: string,
  child: ChildProcess,
  logFile: string,
): Promise<void> {
  const exited = once(child, 'exit').then(() => 'exited' as const);
  for (let attempt = 0; attempt < 300; attempt++) {
    const ok = await new Promise<boolean>((done) => {
      const req = get(`${url}/health`, { ca: rootPem, agent: false }, (res) => {
        res.resume();
        done(res.statusCode === 200);
      });
      req.on('error', () => done(false));
    });
    if (ok) return;
    const state = await Promise.race([exited, new Promise((r) => setTimeout(r, 100, 'waiting'))]);
    if (state === 'exited') break;
  }
  child.kill('SIGKILL');
  const log = readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
  throw new Error(`step-ca did not become healthy at ${url}; last lines of ${logFile}:\n${log}`);
}

/** Writes the CA's files and ca.json into `opts.dir`, starts step-ca, and resolves once `/health` answers over trusted TLS. */
export async function startStepCa(opts: StartStepCaOptions): Promise<RunningStepCa> {
  const bin = ensureStepCaBinary();
  if (!bin) throw new Error(stepCaMissingReason());
  const dir = resolve(opts.dir);
  await mkdir(dir, { recursive: true });
  const file = (name: string) => join(dir, name);
  await writeFile(file('root_ca.crt'), opts.rootCertPem);
  await writeFile(file('intermediate_ca.crt'), opts.intermediateCertPem);
  await writeFile(file('intermediate_ca_key'), opts.intermediateKeyPem, { mode: 0o600 });
  const templateFile = file('spiffe-leaf.tpl');
  await writeFile(templateFile, SPIFFE_TEMPLATE);
  const options = opts.templateSpiffe === false ? undefined : { x509: { templateFile } };

  const provisioners: StartedProvisioner[] = [];
  const entries: object[] = [];
  for (const spec of opts.provisioners) {
    // step-ca refuses a max below the global 24h default, so a lowered max lowers the default with it.
    const c = spec.claims;
    const claims = c ? { claims: { defaultTLSCertDuration: c.maxTLSCertDuration, ...c } } : {};
    if (spec.type === 'JWK') {
      const { entry, kid } = await jwkProvisioner(spec.name, spec.password);
      entries.push({ ...entry, ...claims, options });
      provisioners.push({ type: 'JWK', name: spec.name, kid });
    } else {
      const roots = Buffer.from(spec.rootsPem).toString('base64');
      entries.push({ type: 'X5C', name: spec.name, roots, ...claims, options });
      provisioners.push({ type: 'X5C', name: spec.name });
    }
  }

  const port = opts.port || (await freePort());
  const url = `https://127.0.0.1:${port}`;
  const config = {
    root: file('root_ca.crt'),
    crt: file('intermediate_ca.crt'),
    key: file('intermediate_ca_key'),
    address: `127.0.0.1:${port}`,
    dnsNames: ['127.0.0.1', 'localhost'],
    logger: { format: 'text' },
    db: { type: 'badgerv2', dataSource: file('db') },
    authority: {
      // Wide enough for the tests' short and long lifetimes; provisioners narrow it with their own claims.
      claims: { minTLSCertDuration: '1m', maxTLSCertDuration: '2160h', defaultTLSCertDuration: '24h' },
      provisioners: entries,
    },
  };
  await writeFile(file('ca.json'), `${JSON.stringify(config, null, 2)}\n`);
  const logFile = file('step-ca.log');

  let child: ChildProcess | undefined;
  const start = async () => {
    const log = openSync(logFile, 'a');
    // STEPPATH keeps step-ca away from the user's ~/.step.
    const proc = spawn(bin, [file('ca.json')], {
      stdio: ['ignore', log, log],
      env: { ...process.env, STEPPATH: join(dir, 'steppath') },
    });
    closeSync(log);
    running.add(proc);
    proc.once('exit', () => running.delete(proc));
    child = proc;
    await waitHealthy(url, opts.rootCertPem, proc, logFile);
  };
  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    url,
    port,
    rootPem: opts.rootCertPem,
    provisioners,
    logFile,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
  };
}

export interface TestCertificate {
  certPem: string;
  keyPem: string;
  certFile: string;
  keyFile: string;
}

function openssl(args: string[]): void {
  const run = spawnSync('openssl', args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${run.stderr}`);
}

/**
 * An EC P-256 certificate made by the `openssl` CLI into `dir/<name>.crt|.key`: self-signed when
 * `issuer` is absent, else signed by it. `extensions` is an OpenSSL v3 extension section body.
 */
export function opensslCertificate(opts: {
  dir: string;
  name: string;
  subject: string;
  extensions: string;
  issuer?: TestCertificate;
  days?: number;
}): TestCertificate {
  const base = join(opts.dir, opts.name);
  const [certFile, keyFile, csrFile, extFile] = ['.crt', '.key', '.csr', '.ext'].map((x) => base + x) as [
    string,
    string,
    string,
    string,
  ];
  writeFileSync(extFile, `[v3]\n${opts.extensions}\n`);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
  openssl(['req', '-new', '-key', keyFile, '-subj', opts.subject, '-out', csrFile]);
  const signWith = opts.issuer
    ? ['-CA', opts.issuer.certFile, '-CAkey', opts.issuer.keyFile]
    : ['-signkey', keyFile];
  const serial = `0x${randomBytes(12).toString('hex')}`;
  const days = String(opts.days ?? 30);
  openssl(
    ['x509', '-req', '-in', csrFile, ...signWith, '-set_serial', serial, '-days', days].concat([
      '-sha256',
      '-extfile',
      extFile,
      '-extensions',
      'v3',
      '-out',
      certFile,
    ]),
  );
  return {
    certPem: readFileSync(certFile, 'utf8'),
    keyPem: readFileSync(keyFile, 'utf8'),
    certFile,
    keyFile,
  };
}

/** A root and an intermediate CA as an operator would make them for step-ca. */
export function opensslHierarchy(
  dir: string,
  label: string,
): { root: TestCertificate; intermediate: TestCertificate } {
  const caExt =
    'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash';
  const root = opensslCertificate({
    dir,
    name: `${label}-root`,
    subject: `/O=meshca test/CN=${label} Root CA`,
    extensions: caExt,
  });
  const intermediate = opensslCertificate({
    dir,
    name: `${label}-intermediate`,
    subject: `/O=meshca test/CN=${label} Intermediate CA`,
    extensions: `${caExt.replace('CA:true', 'CA:true,pathlen:0')}\nauthorityKeyIdentifier=keyid`,
    issuer: root,
  });
  return { root, intermediate };
}

export interface ResettingRelay {
  url: string;
  /** Marks every open connection to be reset (RST) when the client next sends on it; returns how many. */
  resetOpenConnectionsOnNextUse(): number;
  close(): Promise<void>;
}

/**
 * A TCP relay to 127.0.0.1:`port` (TLS passes through untouched) that can make kept-alive connections
 * die under the next request: the race a restart or an idle timeout causes, made certain for a test.
 */
export async function startResettingRelay(port: number): Promise<ResettingRelay> {
  const open = new Set<Socket>();
  const doomed = new WeakSet<Socket>();
  const relay = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    open.add(client);
    client.on('data', (chunk) => (doomed.has(client) ? client.resetAndDestroy() : upstream.write(chunk)));
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('close', () => {
      open.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  relay.listen(0, '127.0.0.1');
  await once(relay, 'listening');
  return {
    url: `https://127.0.0.1:${(relay.address() as { port: number }).port}`,
    resetOpenConnectionsOnNextUse: () => {
      for (const socket of open) doomed.add(socket);
      return open.size;
    },
    close: async () => {
      for (const socket of open) socket.destroy();
      relay.close();
      await once(relay, 'close');
    },
  };
}
