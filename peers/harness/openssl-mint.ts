// Certificates minted by the real `openssl` CLI, for the peers a test or a demo starts (a Kubernetes
// API server's CAs and serving certificate, a step-ca's hierarchy): openssl is the independent maker,
// so these never depend on the meshca code under test.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function opensslSync(args: string[]): void {
  execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * The two commands that mint a certificate for an existing key: `openssl req -new` (the CSR), then
 * `openssl x509 -req` signed as `signer` says (`-signkey KEY`, or `-CA CERT -CAkey KEY`) with the
 * extensions of section `extensions` in `extFile`. Shared by every minting helper, synchronous or not.
 */
export function mintCommands(o: {
  key: string;
  subj: string;
  csr: string;
  out: string;
  signer: string[];
  days: number;
  digest?: string;
  serial?: string;
  extFile?: string;
  extensions?: string;
}): [string[], string[]] {
  const x509 = ['x509', '-req', '-in', o.csr, ...o.signer];
  if (o.serial) x509.push('-set_serial', o.serial);
  x509.push('-days', String(o.days), `-${o.digest ?? 'sha256'}`);
  if (o.extFile) x509.push('-extfile', o.extFile);
  if (o.extensions) x509.push('-extensions', o.extensions);
  return [
    ['req', '-new', '-key', o.key, '-subj', o.subj, '-out', o.csr],
    [...x509, '-out', o.out],
  ];
}

export interface TestCertificate {
  certPem: string;
  keyPem: string;
  certFile: string;
  keyFile: string;
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
  opensslSync(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
  const commands = mintCommands({
    key: keyFile,
    subj: opts.subject,
    csr: csrFile,
    out: certFile,
    signer: opts.issuer
      ? ['-CA', opts.issuer.certFile, '-CAkey', opts.issuer.keyFile]
      : ['-signkey', keyFile],
    serial: `0x${randomBytes(12).toString('hex')}`,
    days: opts.days ?? 30,
    extFile,
    extensions: 'v3',
  });
  for (const args of commands) opensslSync(args);
  return {
    certPem: readFileSync(certFile, 'utf8'),
    keyPem: readFileSync(keyFile, 'utf8'),
    certFile,
    keyFile,
  };
}
