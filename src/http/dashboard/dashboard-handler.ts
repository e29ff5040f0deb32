// Serves the dashboard under /ui: who may see it (loopback clients, or anyone with the admin token,
// as a bearer token or a session cookie from /ui/login), GET only (the login form posts), bounded
// query strings, and security headers that let the page load nothing but itself.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { DashboardModel, IssuanceSearch } from './dashboard-model.js';
import { html, type SafeHtml } from './html.js';
import { renderDashboard } from './render-dashboard.js';

export const DASHBOARD_PATH = '/ui';
const LOGIN_PATH = '/ui/login';
const COOKIE = 'meshca_ui';
export const MAX_SERIAL_CHARS = 128;
export const MAX_SPIFFE_ID_CHARS = 512;
const MAX_LOGIN_BODY_BYTES = 4096;

export interface PageReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface DashboardAccess {
  /** null: no token; only clients on a loopback address are answered. */
  adminToken: string | null;
}

export interface DashboardHandlerOptions extends DashboardAccess {
  /** The page's data for one request. */
  load(search: IssuanceSearch): Promise<DashboardModel>;
}

const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  // The page is markup and inline style only: no script, no frame, no form posted elsewhere.
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const page = (status: number, body: SafeHtml | string, extra: Record<string, string> = {}): PageReply => ({
  status,
  headers: { ...HEADERS, ...extra },
  body: body.toString(),
});

const message = (status: number, title: string, text: string): PageReply =>
  page(
    status,
    html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>meshca: ${title}</title><link rel="icon" href="data:,"></head><body><h1>${title}</h1><p>${text}</p></body></html>`,
  );

const loginPage = (status: number, problem?: string): PageReply =>
  page(
    status,
    html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>meshca: log in</title><link rel="icon" href="data:,"></head><body><h1>meshca dashboard</h1>${problem ? html`<p>${problem}</p>` : ''}<form method="post" action="${LOGIN_PATH}"><label>admin token <input type="password" name="token" autocomplete="current-password"></label> <button type="submit">log in</button></form><p>Or send <code>Authorization: Bearer &lt;token&gt;</code>.</p></body></html>`,
  );

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The cookie's value: derived from the token, so the token itself is not stored in the browser. */
const sessionValue = (token: string) =>
  createHmac('sha256', token).update('meshca-dashboard-session/v1').digest('base64url');

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

function authorized(req: IncomingMessage, token: string): boolean {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ') && sameSecret(auth.slice(7).trim(), token)) return true;
  const cookie = cookieOf(req, COOKIE);
  return cookie !== undefined && sameSecret(cookie, sessionValue(token));
}

function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The search asked for, checked: a serial in hex (colons, spaces and case ignored), a bounded SPIFFE ID. */
export function parseSearch(query: URLSearchParams): IssuanceSearch | string {
  const serialText = query.get('serial')?.trim() ?? '';
  const spiffeId = query.get('spiffe-id')?.trim() ?? '';
  if (serialText.length > MAX_SERIAL_CHARS) return `the serial is longer than ${MAX_SERIAL_CHARS} characters`;
  if (spiffeId.length > MAX_SPIFFE_ID_CHARS)
    return `the SPIFFE ID is longer than ${MAX_SPIFFE_ID_CHARS} characters`;
  const serial = serialText.replace(/[:\s]/g, '').toLowerCase();
  if (serial && !/^[0-9a-f]+$/.test(serial))
    return 'a serial is hexadecimal digits (colons allowed), as openssl x509 -serial prints it';
  return {
    ...(serial ? { serial: serial.replace(/^0+(?=.)/, '') } : {}),
    ...(spiffeId ? { spiffeId } : {}),
  };
}

export function createDashboardHandler(
  opts: DashboardHandlerOptions,
): (req: IncomingMessage) => Promise<PageReply> {
  const token = opts.adminToken;
  return async (req) => {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    if (token === null && !isLoopback(req.socket.remoteAddress))
      return message(
        403,
        'loopback only',
        'The dashboard answers clients on this machine only. To open it from elsewhere, start meshca serve with --ui-admin-token-file.',
      );
    if (url.pathname === LOGIN_PATH && token !== null) {
      if (req.method === 'POST') {
        const body = await readBody(req, MAX_LOGIN_BODY_BYTES);
        const given = body === undefined ? undefined : new URLSearchParams(body).get('token');
        if (!given || !sameSecret(given.trim(), token)) return loginPage(401, 'That is not the admin token.');
        return page(303, '', {
          location: DASHBOARD_PATH,
          'set-cookie': `${COOKIE}=${sessionValue(token)}; Path=${DASHBOARD_PATH}; HttpOnly; SameSite=Strict`,
        });
      }
      if (req.method === 'GET' || req.method === 'HEAD') return loginPage(200);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return {
        ...message(405, 'read-only', 'The dashboard only answers GET.'),
        headers: { ...HEADERS, allow: 'GET, HEAD' },
      };
    if (token !== null && !authorized(req, token)) return loginPage(401, 'Log in with the admin token.');
    if (url.pathname !== DASHBOARD_PATH && url.pathname !== `${DASHBOARD_PATH}/`)
      return message(404, 'not found', 'The dashboard is at /ui.');
    const search = parseSearch(url.searchParams);
    if (typeof search === 'string') return message(400, 'bad search', `${search}.`);
    return page(200, renderDashboard(await opts.load(search)));
  };
}
