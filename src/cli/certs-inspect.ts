// `meshca certs inspect FILE…`: what is in each certificate, in words.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { invalidInput } from '../errors.js';
import { describeCertificate } from '../pki/describe-certificate.js';
import { parseCertificates } from '../pki/parse-certificate.js';
import { type CommandSpec, parseCommandArgs } from './args.js';
import type { CliContext } from './context.js';

const spec: CommandSpec = {
  name: 'certs inspect',
  summary:
    'print subject, issuer, serial, validity, key, SANs, CA flags, key usages and fingerprint of each certificate',
  usage: 'meshca certs inspect FILE…',
  allowPositionals: true,
  options: {},
  optionHelp: [],
  examples: ['meshca certs inspect root-cert.pem cluster1/cert-chain.pem'],
};

export async function runCertsInspect(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseCommandArgs(spec, argv, ctx.out);
  if (!args) return 0;
  if (args.positionals.length === 0)
    throw invalidInput('CLI_USAGE', `name at least one file\nUsage: ${spec.usage}`);
  for (const file of args.positionals) {
    const path = resolve(ctx.cwd, file);
    const certs = parseCertificates(
      await readFile(path, 'utf8').catch((err: Error) => {
        throw invalidInput('CLI_MISSING_FILE', `cannot read ${path}: ${err.message}`);
      }),
      path,
    );
    certs.forEach((cert, i) => {
      ctx.out(
        `${file}${certs.length > 1 ? ` [${i + 1}/${certs.length}]` : ''}\n${describeCertificate(cert)}\n`,
      );
    });
  }
  return 0;
}
