// The servers under test, as users run them: the compiled `meshca serve`, Istio's CA (istiod's, from
// peers/istio-ca), Cloudflare's `cfssl serve` and smallstep's step-ca, each pinned with taskset and
// logging to a file so no pipe costs the harness CPU.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { istioCaArgs, istioCaReadyPort } from '../../peers/harness/istio-ca.js';
import { ensurePeerBinary, peerMissingReason } from '../../peers/harness/peer-binary.js';
import { waitStepCaHealthy } from '../../peers/harness/step-ca/wait-step-ca-healthy.js';
import { writeStepCaConfig } from '../../peers/harness/step-ca/write-step-ca-config.js';
import type { CaFixture } from './fixtures.js';
import { freePort, spawnPinned, waitForFileLine, waitForPort } from './procs.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const MESHCA_BIN = join(REPO, 'bin', 'meshca.js');

export interface RunningServer {
  name: string;
  child: ChildProcess;
  pid: number;
  port: number;
  logFile: string;
}

function logTo(path: string): number {
  return openSync(path, 'a');
}

/**
 * `meshca serve` on an ephemeral port with the fixture's data dir (its self-signed root and the shared
 * token issuer). Log level stays at the default (info, one line per certificate), as deployed.
 */
export async function startMeshca(opts: {
  name: string;
  ca: CaFixture;
  cpus: string | null;
  work: string;
  nodeArgs?: string[];
  /** `--workers N`: a primary and N worker processes (measured together: the pid is the primary's). */
  workers?: number;
  /** The issuance log (default on, as deployed), each server in its own directory under `work`. */
  issuanceLog?: boolean;
  /** More `meshca serve` flags (e.g. `--ca-key URI`). */
  extraArgs?: string[];
}): Promise<RunningServer> {
  const logFile = join(opts.work, `${opts.name}.log`);
  const fd = logTo(logFile);
  const child = spawnPinned(
    opts.cpus,
    process.execPath,
    [
      ...(opts.nodeArgs ?? []),
      MESHCA_BIN,
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--monitoring',
      'off',
      '--data-dir',
      opts.ca.dataDir,
      '--ca-key-type',
      opts.ca.keyType,
      '--workers',
      String(opts.workers ?? 1),
      // Servers share a CA data directory, and a log directory has one writer: each gets its own.
      ...(opts.issuanceLog === false
        ? ['--issuance-log', 'off']
        : ['--issuance-log-dir', join(opts.work, `${opts.name}-issuance-log`)]),
      ...(opts.extraArgs ?? []),
    ],
    { cwd: opts.work, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const port = await waitForFileLine(
    logFile,
    (line) => {
      if (!line.includes('meshca CA serving')) return undefined;
      const grpc = String((JSON.parse(line) as { grpc?: string }).grpc ?? '');
      return Number(grpc.split(':').pop());
    },
    30_000,
    child,
  );
  return { name: opts.name, child, pid: child.pid!, port, logFile };
}

export interface CfsslAvailability {
  ok: boolean;
  /** Why not, when not. */
  reason?: string;
  version?: string;
}

function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Finds `cfssl`, installing Debian's golang-cfssl with apt-get when it is missing and we may. */
export function ensureCfssl(progress: (msg: string) => void): CfsslAvailability {
  if (!hasCommand('cfssl')) {
    if (!hasCommand('apt-get'))
      return { ok: false, reason: 'cfssl is not installed and apt-get is not available' };
    if (process.getuid?.() !== 0)
      return { ok: false, reason: 'cfssl is not installed; run `apt-get install golang-cfssl` as root' };
    progress('installing cfssl (apt-get install golang-cfssl)…');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () =>
      execFileSync('apt-get', ['install', '-y', '-qq', 'golang-cfssl'], {
        stdio: 'ignore',
        env,
        timeout: 300_000,
      });
    try {
      install();
    } catch {
      try {
        // A fresh machine has no package lists yet.
        execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 300_000 });
        install();
      } catch (err) {
        return {
          ok: false,
          reason: `apt-get install golang-cfssl failed (${(err as Error).message.split('\n')[0]})`,
        };
      }
    }
    if (!hasCommand('cfssl')) return { ok: false, reason: 'golang-cfssl installed but no cfssl command' };
  }
  let version = 'unknown';
  try {
    const text = execFileSync('cfssl', ['version'], { encoding: 'utf8' });
    const v = /Version:\s*(\S+)/.exec(text)?.[1];
    const go = /Runtime:\s*(\S+)/.exec(text)?.[1];
    let pkg = '';
    try {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format placeholder
      pkg = execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'golang-cfssl'], {
        encoding: 'utf8',
      }).trim();
    } catch {
      // not from a Debian package
    }
    version = [v, go, pkg && `deb ${pkg}`].filter(Boolean).join(', ');
  } catch {
    // keep 'unknown'
  }
  return { ok: true, version };
}

/**
 * `cfssl serve` over TLS (as meshca serves gRPC over TLS) signing with the fixture's CA key. Its
 * GOMAXPROCS follows the affinity it starts with, so a pinned cfssl runs one scheduler thread.
 */
export async function startCfssl(opts: {
  name: string;
  ca: CaFixture;
  cpus: string | null;
  work: string;
  configFile: string;
}): Promise<RunningServer> {
  const logFile = join(opts.work, `${opts.name}.log`);
  const env = { ...process.env };
  delete env.GOMAXPROCS;
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const fd = logTo(logFile);
    const child = spawnPinned(
      opts.cpus,
      'cfssl',
      [
        'serve',
        '-address',
        '127.0.0.1',
        '-port',
        String(port),
        '-ca',
        opts.ca.certFile,
        '-ca-key',
        opts.ca.keyFile,
        '-config',
        opts.configFile,
        '-tls-cert',
        opts.ca.cfsslTls.certFile,
        '-tls-key',
        opts.ca.cfsslTls.keyFile,
      ],
      { cwd: opts.work, stdio: ['ignore', fd, fd], env },
    );
    closeSync(fd);
    try {
      await waitForPort(port, 15_000, child);
      return { name: opts.name, child, pid: child.pid!, port, logFile };
    } catch (err) {
      child.kill('SIGKILL');
      // Another process may have taken the port between freePort() and cfssl's bind: try again.
      if (attempt >= 2) throw err;
    }
  }
}

export function distIsBuilt(): boolean {
  return existsSync(join(REPO, 'dist', 'src', 'cli', 'main.js'));
}

export interface PeerAvailability {
  ok: boolean;
  /** The binary, when ok. */
  bin?: string;
  /** Why not, when not. */
  reason?: string;
  /** The pinned module version the binary was built from. */
  version?: string;
}

/** A Go peer from peers/ (built on first use, minutes when cold), or why it cannot be had here. */
export function ensureGoPeer(
  name: 'istio-ca' | 'step-ca',
  progress: (msg: string) => void,
): PeerAvailability {
  progress(`building or finding the ${name} peer (node peers/build.mjs ${name})…`);
  try {
    const bin = ensurePeerBinary(name);
    if (!bin) return { ok: false, reason: peerMissingReason(name) ?? 'it cannot be built here' };
    // <cache>/peers/<name>@<version>/<binary>
    const version = /@([^/]+)\/[^/]+$/.exec(bin)?.[1];
    return { ok: true, bin, version };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

/**
 * Istio's CA (peers/istio-ca: istiod's IstioCA, CA gRPC service and JWT authenticator) over the
 * fixture's very CA key and certificate, trusting the shared token issuer. Its Go runtime sizes
 * GOMAXPROCS from the affinity it starts with, as cfssl's does. Istio's log level stays at info, as
 * istiod runs (no line per certificate at that level).
 */
export async function startIstioCa(opts: {
  name: string;
  bin: string;
  ca: CaFixture;
  cpus: string | null;
  work: string;
}): Promise<RunningServer> {
  const logFile = join(opts.work, `${opts.name}.log`);
  const env = { ...process.env };
  delete env.GOMAXPROCS;
  const fd = logTo(logFile);
  const child = spawnPinned(
    opts.cpus,
    opts.bin,
    istioCaArgs({ cacertsDir: opts.ca.istioCacertsDir, jwksFile: opts.ca.jwksFile }),
    { cwd: opts.work, stdio: ['ignore', fd, fd], env },
  );
  closeSync(fd);
  const port = await waitForFileLine(
    logFile,
    (line) => {
      try {
        return istioCaReadyPort(JSON.parse(line) as Record<string, unknown>);
      } catch {
        return undefined; // Istio's own log lines, or a line still being written
      }
    },
    30_000,
    child,
  );
  return { name: opts.name, child, pid: child.pid!, port, logFile };
}

export interface RunningStepCaServer extends RunningServer {
  url: string;
  rootPem: string;
  provisioner: { name: string; kid: string; password: string };
}

/**
 * smallstep's step-ca (peers/step-ca) signing with the fixture's very CA key and certificate as its
 * intermediate (the self-signed root is both), one JWK provisioner and the SPIFFE leaf template, as
 * peers/harness/step-ca writes its home (its badger database on, as `step ca init` leaves it).
 */
export async function startStepCaServer(opts: {
  name: string;
  bin: string;
  ca: CaFixture;
  cpus: string | null;
  work: string;
}): Promise<RunningStepCaServer> {
  const logFile = join(opts.work, `${opts.name}.log`);
  const caPem = readFileSync(opts.ca.certFile, 'utf8');
  const password = 'bench provisioner password';
  const env: NodeJS.ProcessEnv = { ...process.env, STEPPATH: join(opts.work, `${opts.name}-steppath`) };
  delete env.GOMAXPROCS;
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const config = await writeStepCaConfig({
      dir: join(opts.work, `${opts.name}-${attempt}`),
      rootCertPem: caPem,
      intermediateCertPem: caPem,
      intermediateKeyPem: readFileSync(opts.ca.keyFile, 'utf8'),
      provisioners: [{ type: 'JWK', name: 'bench', password }],
      port,
    });
    const fd = logTo(logFile);
    const child = spawnPinned(opts.cpus, opts.bin, [config.configFile], {
      cwd: opts.work,
      stdio: ['ignore', fd, fd],
      env,
    });
    closeSync(fd);
    try {
      await waitStepCaHealthy({ url: config.url, rootPem: caPem, child, logFile, timeoutMs: 30_000 });
      const kid = config.provisioners[0]!.kid!;
      return {
        name: opts.name,
        child,
        pid: child.pid!,
        port,
        logFile,
        url: config.url,
        rootPem: caPem,
        provisioner: { name: 'bench', kid, password },
      };
    } catch (err) {
      child.kill('SIGKILL');
      // Another process may have taken the port between freePort() and step-ca's bind: try again.
      if (attempt >= 2) throw err;
    }
  }
}
