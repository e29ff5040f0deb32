// SoftHSM2 tokens for tests: a private SOFTHSM2_CONF and token directory per test file, a token
// initialized with softhsm2-util (Debian's softhsm2, installed by .ci/run), a 0600 PIN file, and the
// RFC 7512 URI of a key in it. The test sets SOFTHSM2_CONF (for itself and the processes it starts).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { makeTempDir, type TempDir } from './temp-dir.js';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsm {
  dir: TempDir;
  /** The SOFTHSM2_CONF file to put in the environment of whatever opens the token. */
  conf: string;
  /** Where the tokens live: moving it away makes every token disappear. */
  tokenDir: string;
  pin: string;
  pinFile: string;
  /** The environment for child processes: SOFTHSM2_CONF set. */
  env: NodeJS.ProcessEnv;
  /** The URI of key `object` in token `token`, with the PIN file and the module. */
  uri(object: string, opts?: { token?: string; pinFile?: string }): string;
  /** `pkcs11-tool args…` against this SoftHSM, logged in with the PIN; its stdout. */
  pkcs11Tool(args: string[]): string;
  remove(): void;
}

/** A SoftHSM2 with one token `label` (user PIN pin-kqzxw) in a temporary directory. */
export function makeSoftHsm(label = 'meshca'): SoftHsm {
  for (const tool of [SOFTHSM_MODULE, '/usr/bin/softhsm2-util', '/usr/bin/pkcs11-tool']) {
    if (!existsSync(tool)) {
      throw new Error(`${tool} is missing: install Debian's softhsm2 and opensc (.ci/run does)`);
    }
  }
  const dir = makeTempDir('meshca-softhsm-');
  const tokenDir = dir.file('tokens');
  execFileSync('mkdir', ['-m', '0700', tokenDir]);
  const conf = dir.write(
    'softhsm2.conf',
    `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  );
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  // Letters no path, serial or label here contains, so a test can tell the PIN never shows.
  const pin = 'pin-kqzxw';
  execFileSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', '5678'],
    { env, stdio: 'pipe' },
  );
  const pinFile = dir.file('pin');
  writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
  chmodSync(pinFile, 0o600);
  return {
    dir,
    conf,
    tokenDir,
    pin,
    pinFile,
    env,
    uri: (object, opts = {}) =>
      `pkcs11:token=${opts.token ?? label};object=${object}?module-path=${SOFTHSM_MODULE}&pin-source=file:${opts.pinFile ?? pinFile}`,
    pkcs11Tool: (args) =>
      execFileSync(
        'pkcs11-tool',
        ['--module', SOFTHSM_MODULE, '--token-label', label, '--login', '--pin', pin, ...args],
        {
          env,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      ),
    remove: () => dir.remove(),
  };
}
