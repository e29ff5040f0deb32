// CA keys in a PKCS#11 token on the command line: `meshca serve --ca-key URI` (its options, help
// lines and resolve function, kept out of serve.ts) and the URI checks `meshca certs --key` and
// `--root-key` share. pin-value= in a URI is refused unless MESHCA_PKCS11_ALLOW_PIN_VALUE=1 (tests).
import { resolve } from 'node:path';
import type { KeySource } from '../ca/offline/hierarchy-files.js';
import type { TokenKeyRef } from '../ca/pkcs11/pkcs11-ca-key.js';
import { isPkcs11Uri, parsePkcs11Uri } from '../ca/pkcs11/pkcs11-uri.js';
import { str } from './args.js';
import type { CliContext } from './context.js';
import { pickOptional, type SettingsProblems } from './settings.js';

export const ALLOW_PIN_VALUE_ENV = 'MESHCA_PKCS11_ALLOW_PIN_VALUE';

/** A checked reference to a key in a token; undefined (with the problem recorded) when the URI is bad. */
export function tokenKeyRef(
  text: string,
  ctx: CliContext,
  problems: SettingsProblems,
  flag: string,
): TokenKeyRef | undefined {
  try {
    parsePkcs11Uri(text);
  } catch (err) {
    problems.add(`${flag}: ${(err as Error).message}`);
    return undefined;
  }
  return { uri: text, allowPinValue: ctx.env[ALLOW_PIN_VALUE_ENV] === '1' };
}

/** `--root-key`: a key file (relative to `dir`) or, given a pkcs11: URI, a key in a token. */
export function keySource(
  text: string,
  dir: string,
  ctx: CliContext,
  problems: SettingsProblems,
): KeySource | undefined {
  return isPkcs11Uri(text) ? tokenKeyRef(text, ctx, problems, '--root-key') : resolve(dir, text);
}

export const SERVE_PKCS11_OPTIONS = { 'ca-key': { type: 'string' } } as const;

export const SERVE_PKCS11_HELP = [
  "--ca-key URI                 the CA's signing key in a PKCS#11 token (RFC 7512), e.g.",
  '                             pkcs11:token=meshca;object=cluster1-ca?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/meshca/pin',
  "                             with --cacerts: the intermediate's key (no ca-key.pem needed); without: the self-signed",
  "                             root's key, made in the token on first start (env MESHCA_CA_KEY; PIN file must be 0600)",
];

/** The serve --ca-key setting; refused with the Kubernetes home, which keeps its keys in Secrets. */
export function resolveServeCaKey(
  values: Record<string, unknown>,
  ctx: CliContext,
  problems: SettingsProblems,
  kubernetes: boolean,
): TokenKeyRef | undefined {
  const text = pickOptional(str(values['ca-key']), ctx.env, 'MESHCA_CA_KEY');
  if (text === undefined) return undefined;
  if (kubernetes) {
    problems.add(
      '--ca-key applies to the data-directory home; the Kubernetes home keeps its CA key in Secrets',
    );
    return undefined;
  }
  return tokenKeyRef(text, ctx, problems, '--ca-key');
}
