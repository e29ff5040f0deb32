// The dashboard page: server-rendered HTML, no script. Four sections (hierarchy, issuance, reloads,
// rotation), each rendered from the model alone; every value goes through `html`, which escapes it.
import type { CertificateView, DashboardModel, IssuanceView, SignerActivity } from './dashboard-model.js';
import { html, type SafeHtml } from './html.js';

/** A certificate is flagged when less than this share of its life, or fewer than WARN_DAYS, is left. */
export const WARN_FRACTION = 0.2;
export const WARN_DAYS = 30;
const DAY_MS = 86_400_000;

const STYLE = html`<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{background:#1f3a5f;color:#fff;padding:12px 24px}header h1{margin:0;font-size:20px}
header p{margin:2px 0 0;opacity:.8}main{padding:8px 24px 24px;max-width:1400px}
section{background:#fff;border:1px solid #d8dde3;border-radius:6px;margin:16px 0;padding:12px 16px}
h2{font-size:16px;margin:0 0 8px}h3{font-size:14px;margin:12px 0 4px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #eceff2;vertical-align:top}
th{font-weight:600;color:#555}code{font:12px ui-monospace,monospace;word-break:break-all}
.bar{width:160px;height:10px;background:#e3e6ea;border-radius:5px;overflow:hidden;display:inline-block;vertical-align:middle}
.bar span{display:block;height:100%;background:#2e8b57}.warn .bar span{background:#d98e04}.expired .bar span{background:#c0392b}
.badge{display:inline-block;padding:0 6px;border-radius:8px;font-size:12px;margin-left:6px}
.warn .badge{background:#fdf0d5;color:#7a5200}.expired .badge{background:#f8d7d4;color:#8a1f13}
.alert{background:#fdf0d5;border:1px solid #e9c46a;border-radius:4px;padding:6px 10px;margin:6px 0}
.refused{background:#f8d7d4;border-color:#e4a199}.muted{color:#666}
.spark{display:inline-flex;align-items:flex-end;height:24px;gap:1px;vertical-align:middle}
.spark i{display:block;width:4px;background:#2e8b57}.spark i.e{background:#c0392b}
form{margin:8px 0}.nowrap{white-space:nowrap}section{overflow-x:auto}input[type=text]{width:320px;padding:3px 6px}
</style>`;

function lifeLeft(c: CertificateView, now: Date) {
  const total = c.notAfter.getTime() - c.notBefore.getTime();
  const left = c.notAfter.getTime() - now.getTime();
  const fraction = total > 0 ? Math.max(0, Math.min(1, left / total)) : 0;
  const days = Math.floor(left / DAY_MS);
  const state = left <= 0 ? 'expired' : fraction < WARN_FRACTION || left < WARN_DAYS * DAY_MS ? 'warn' : 'ok';
  return { fraction, days, state };
}

function expiryCell(c: CertificateView, now: Date): SafeHtml {
  const { fraction, days, state } = lifeLeft(c, now);
  const label =
    state === 'expired' ? 'expired' : state === 'warn' ? `expires in ${days} days` : `${days} days left`;
  return html`<td class="${state}"><span class="bar" title="${Math.round(fraction * 100)}% of its life left"><span style="width:${(fraction * 100).toFixed(1)}%"></span></span> <span title="${c.notAfter.toISOString()}">${c.notAfter.toISOString().slice(0, 10)}</span>${state === 'ok' ? '' : html`<span class="badge">${label}</span>`}${state === 'ok' ? html` <span class="muted">(${label})</span>` : ''}</td>`;
}

function certificateRows(role: string, certs: readonly CertificateView[], now: Date): SafeHtml[] {
  return certs.map(
    (c) =>
      html`<tr data-role="${role}"><td>${role}</td><td>${c.subject}</td><td><code data-fingerprint>${c.fingerprint}</code></td><td>${c.keyType}</td>${expiryCell(c, now)}</tr>`,
  );
}

function expiryWarnings(model: DashboardModel): SafeHtml[] {
  const h = model.hierarchy!;
  const all = [
    ...h.roots.map((c) => ['root', c] as const),
    ...h.chain.map((c, i) => [i === 0 ? 'signing certificate' : 'intermediate', c] as const),
    ...h.signers.flatMap((s) => s.roots.map((c) => [`root of signer ${s.name}`, c] as const)),
  ];
  return all.flatMap(([role, c]) => {
    const { state, days } = lifeLeft(c, model.now);
    if (state === 'ok') return [];
    return [
      html`<div class="alert">${role} ${c.subject} ${state === 'expired' ? 'has expired' : `expires in ${days} days`} (${c.notAfter.toISOString()}): plan its replacement.</div>`,
    ];
  });
}

function hierarchySection(model: DashboardModel): SafeHtml {
  const h = model.hierarchy;
  if (!h) return html``;
  const head = html`<tr><th>role</th><th>subject</th><th>SHA-256 fingerprint</th><th>key</th><th>expiry</th></tr>`;
  return html`<section id="hierarchy"><h2>Hierarchy</h2><p class="muted">bundle: ${h.source}</p>
${expiryWarnings(model)}
<table>${head}${certificateRows('root', h.roots, model.now)}${certificateRows('intermediate', h.chain.slice(1).reverse(), model.now)}${certificateRows('signing', h.chain.slice(0, 1), model.now)}</table>
${h.signers.map(
  (s) =>
    html`<h3>signer ${s.name}</h3>${s.roots.length === 0 ? html`<p class="muted">no caCertificates entry lists this signer</p>` : html`<table>${head}${certificateRows('signer root', s.roots, model.now)}</table>`}`,
)}</section>`;
}

function spark(a: SignerActivity): SafeHtml {
  const peak = Math.max(1, ...a.issued.map((n, i) => n + a.errors[i]!));
  return html`<span class="spark" title="per minute, oldest first">${a.issued.map((n, i) => {
    const e = a.errors[i]!;
    return e > 0
      ? html`<i class="e" style="height:${Math.max(2, (24 * (n + e)) / peak).toFixed(0)}px"></i>`
      : html`<i style="height:${((24 * n) / peak).toFixed(0)}px"></i>`;
  })}</span>`;
}

/** `2026-01-31 12:00:00` of an ISO time; the full time is in the cell's title. */
const shortTime = (iso: string) => iso.replace('T', ' ').slice(0, 19);

function issuanceRow(e: IssuanceView): SafeHtml {
  return html`<tr data-serial="${e.serial}"><td class="nowrap" title="${e.time}">${shortTime(e.time)}</td><td class="nowrap"><code>${e.serial}</code></td><td>${e.kind}</td><td>${e.identity}</td><td>${e.signer}</td><td>${e.requester}</td><td class="nowrap" title="${e.notAfter}">${shortTime(e.notAfter).slice(0, 16)}</td></tr>`;
}

function issuanceSection(model: DashboardModel): SafeHtml {
  const { activity, issuances } = model;
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const rate = activity
    ? html`<h3>Last ${activity.minutes} minutes</h3>${
        activity.signers.length === 0
          ? html`<p class="muted">nothing requested yet</p>`
          : html`<table><tr><th>signer</th><th>issued</th><th>errors</th><th>per minute</th></tr>${activity.signers.map(
              (a) =>
                html`<tr data-signer="${a.signer}"><td>${a.signer}</td><td>${sum(a.issued)}</td><td>${sum(a.errors)}</td><td>${spark(a)}</td></tr>`,
            )}</table>`
      }`
    : '';
  const searched = issuances && (issuances.search.serial || issuances.search.spiffeId);
  const list = !issuances
    ? ''
    : issuances.unavailable
      ? html`<p class="muted">${issuances.unavailable}</p>`
      : html`<h3>${searched ? 'Found' : 'Recent issuances'} (newest first, at most ${issuances.limit})</h3>
${issuances.stoppedEarly ? html`<p class="muted">${issuances.stoppedEarly}</p>` : ''}
${
  issuances.entries.length === 0
    ? html`<p class="muted" id="no-issuances">${searched ? 'no certificate in the log matches' : 'the log holds no certificate yet'}</p>`
    : html`<table id="issuance-list"><tr><th>time</th><th>serial</th><th>kind</th><th>identity</th><th>signer</th><th>requester</th><th>not after</th></tr>${issuances.entries.map(issuanceRow)}</table>`
}`;
  const form = issuances
    ? html`<form method="get" action="/ui" id="search"><label>serial <input type="text" name="serial" value="${issuances.search.serial ?? ''}" maxlength="128"></label> <label>SPIFFE ID <input type="text" name="spiffe-id" value="${issuances.search.spiffeId ?? ''}" maxlength="512"></label> <button type="submit">search</button>${searched ? html` <a href="/ui">clear</a>` : ''}</form>`
    : '';
  return html`<section id="issuance"><h2>Issuance</h2>${rate}${form}${list}</section>`;
}

function reloadsSection(model: DashboardModel): SafeHtml {
  const r = model.reloads;
  if (!r) return html``;
  return html`<section id="reloads"><h2>Reloads</h2>
<p>in service since ${r.inService.since.toISOString()}: ${r.inService.subject} (serial <code>${r.inService.serial}</code>)</p>
${
  r.lastRefused
    ? html`<div class="alert${r.lastRefused.recovered ? '' : ' refused'}" id="refused-reload">last refused change ${r.lastRefused.at.toISOString()} (${r.lastRefused.code}): ${r.lastRefused.reason}. The last good bundle kept serving${r.lastRefused.recovered ? html`; the bundle files were valid again at ${r.lastRefused.recovered.toISOString()}` : ''}.</div>`
    : html`<p class="muted">no bundle change refused since this CA started</p>`
}</section>`;
}

function rotationSection(model: DashboardModel): SafeHtml {
  const r = model.rotation;
  if (!r) return html``;
  return html`<section id="rotation"><h2>Root rotation</h2>${
    r.unavailable
      ? html`<p class="muted">${r.unavailable}</p>`
      : html`<p>phase: <strong>${r.phase}</strong>${r.phase === 'none' ? ' (no root rotation prepared; see meshca rotate)' : html`; confirmed ${r.confirmed}, pending ${r.pendingTotal}`}</p>${
          r.pending.length > 0
            ? html`<table><tr><th>pending identity</th><th>its certificate expires</th></tr>${r.pending.map(
                (p) => html`<tr><td>${p.id}</td><td>${p.notAfter.toISOString()}</td></tr>`,
              )}</table>${r.pendingTotal > r.pending.length ? html`<p class="muted">and ${r.pendingTotal - r.pending.length} more (meshca rotate status lists all)</p>` : ''}`
            : ''
        }`
  }</section>`;
}

/** The whole page. */
export function renderDashboard(model: DashboardModel): string {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>meshca dashboard</title><link rel="icon" href="data:,">${STYLE}</head><body><header><h1>meshca</h1><p>read-only view of this CA, ${model.now.toISOString()}${model.scope ? html` · ${model.scope}` : ''}</p></header><main>${hierarchySection(model)}${issuanceSection(model)}${reloadsSection(model)}${rotationSection(model)}</main></body></html>`.toString();
}
