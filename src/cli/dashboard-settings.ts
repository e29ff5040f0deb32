// `meshca serve`'s dashboard options: --ui on|off (MESHCA_UI) and --ui-admin-token-file FILE
// (MESHCA_UI_ADMIN_TOKEN_FILE). Without a token the page answers loopback clients only; with one,
// anyone who presents it. The token is read once at start and never logged.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { str } from './args.js';
import type { CliContext } from './context.js';
import { pick, pickOptional, type SettingsProblems } from './settings.js';

/** Shorter tokens are too easy to guess for a page that may face the network. */
export const MIN_ADMIN_TOKEN_CHARS = 16;
const MAX_ADMIN_TOKEN_BYTES = 4096;

export interface DashboardSettings {
  /** null: no token; loopback clients only. */
  adminToken: string | null;
}

export const DASHBOARD_OPTIONS = {
  ui: { type: 'string' },
  'ui-admin-token-file': { type: 'string' },
} as const;

export const DASHBOARD_HELP = [
  '--ui on|off                  the read-only dashboard at /ui on the --monitoring address (env MESHCA_UI, default on):',
  '                             hierarchy and expiry, issuance per signer, recent certificates, reloads, rotation.',
  '                             Loopback clients only, unless --ui-admin-token-file is given',
  '--ui-admin-token-file FILE   a token (16+ characters) that opens /ui to any client, as "Authorization: Bearer',
  '                             TOKEN" or through the login form (env MESHCA_UI_ADMIN_TOKEN_FILE)',
];

/** null when the dashboard is off (by --ui off, or because --monitoring is off). */
export function resolveDashboardSettings(
  values: Record<string, unknown>,
  ctx: CliContext,
  monitoringOn: boolean,
  problems: SettingsProblems,
): DashboardSettings | null {
  const onOff = pick(str(values.ui), ctx.env, 'MESHCA_UI', 'on');
  const where = onOff.source === 'flag' ? '--ui' : onOff.source;
  if (onOff.value !== 'on' && onOff.value !== 'off') problems.add(`${where} "${onOff.value}": use on or off`);
  const tokenFile = pickOptional(str(values['ui-admin-token-file']), ctx.env, 'MESHCA_UI_ADMIN_TOKEN_FILE');
  if (onOff.value === 'off' || !monitoringOn) {
    if (values['ui-admin-token-file'] !== undefined)
      problems.add(
        '--ui-admin-token-file applies to the dashboard, which is off (--ui off or --monitoring off); drop it or turn them on',
      );
    return null;
  }
  if (tokenFile === undefined) return { adminToken: null };
  const path = resolve(ctx.cwd, tokenFile);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    problems.add(
      `--ui-admin-token-file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give a file that holds the dashboard's admin token`,
    );
    return { adminToken: null };
  }
  const token = text.trim();
  if (
    token.length < MIN_ADMIN_TOKEN_CHARS ||
    Buffer.byteLength(token) > MAX_ADMIN_TOKEN_BYTES ||
    /\s/.test(token)
  )
    problems.add(
      `--ui-admin-token-file ${path}: the token must be ${MIN_ADMIN_TOKEN_CHARS} to ${MAX_ADMIN_TOKEN_BYTES} characters without spaces; make one with "openssl rand -hex 32 > ${path}"`,
    );
  return { adminToken: token };
}
