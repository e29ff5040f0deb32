// The dashboard's one escaping helper and the page built with it: hostile strings (a SPIFFE ID with a
// script tag, quotes that would close an attribute, a reason with markup) come out as text; expiry
// bars and warnings follow the thresholds.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CertificateView, DashboardModel } from '../../../src/http/dashboard/dashboard-model.js';
import { escapeHtml, html } from '../../../src/http/dashboard/html.js';
import { renderDashboard } from '../../../src/http/dashboard/render-dashboard.js';

const HOSTILE = `spiffe://cluster.local/ns/x/sa/<script>alert("x")</script>' onmouseover='y&`;
const now = new Date('2026-06-01T00:00:00Z');
const DAY = 86_400_000;

function cert(subject: string, daysTotal: number, daysLeft: number): CertificateView {
  return {
    subject,
    fingerprint: 'AA:BB',
    keyType: 'EC P-256',
    serial: '01',
    notBefore: new Date(now.getTime() - (daysTotal - daysLeft) * DAY),
    notAfter: new Date(now.getTime() + daysLeft * DAY),
  };
}

describe('escapeHtml and html', () => {
  test('every markup character is escaped; markup made by html is kept once', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const inner = html`<b>${'<i>'}</b>`;
    assert.equal(
      html`<p title="${'"x"'}">${inner}${['<', 1, null, undefined, false]}</p>`.toString(),
      '<p title="&quot;x&quot;"><b>&lt;i&gt;</b>&lt;1</p>',
    );
  });
});

describe('renderDashboard', () => {
  const model: DashboardModel = {
    now,
    hierarchy: {
      source: 'plugged-istio (/etc/<cacerts>)',
      roots: [cert('O=Istio, CN=Root CA', 3650, 3000)],
      chain: [cert('CN=Intermediate <b>', 365, 20)],
      signers: [{ name: 'clusterissuers.cert-manager.io/<evil>', roots: [cert('CN=signer root', 100, -1)] }],
    },
    activity: { minutes: 2, signers: [{ signer: '<sig>', issued: [1, 2], errors: [0, 3] }] },
    issuances: {
      search: { spiffeId: HOSTILE },
      limit: 50,
      entries: [
        {
          time: '2026-06-01T00:00:00.000Z',
          serial: 'abc',
          kind: 'workload',
          identity: HOSTILE,
          signer: 'meshca/local',
          requester: 'token: <x>',
          notAfter: '2026-06-02T00:00:00.000Z',
        },
      ],
    },
    reloads: {
      inService: { since: now, subject: 'CN=<i>', serial: '02' },
      lastRefused: { at: now, code: 'CA_BUNDLE_INVALID', reason: '<img src=x onerror=alert(1)>' },
    },
    rotation: { phase: 'prepared', pending: [{ id: HOSTILE, notAfter: now }], pendingTotal: 3, confirmed: 1 },
  };
  const page = renderDashboard(model);

  test('no caller- or file-supplied string becomes markup', () => {
    assert.doesNotMatch(page, /<script|<img|<evil|<sig>|<b>|<i>|<x>|<cacerts>/);
    assert.ok(
      page.includes('ns/x/sa/&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;y&amp;'),
    );
    // In the search box's value attribute too: the quote cannot close it.
    assert.ok(page.includes(`name="spiffe-id" value="spiffe://cluster.local/ns/x/sa/&lt;script&gt;`));
  });

  test('expiry: a bar per certificate, warnings for little life left or expired', () => {
    assert.match(page, /<td class="ok"><span class="bar"/);
    assert.match(page, /class="warn"/, 'the intermediate has 20 days left');
    assert.match(page, /class="expired"/, 'the signer root expired yesterday');
    assert.match(page, /signing certificate CN=Intermediate &lt;b&gt; expires in 20 days/);
    assert.match(
      page,
      /root of signer clusterissuers\.cert-manager\.io\/&lt;evil&gt; CN=signer root has expired/,
    );
  });

  test('activity, refused reload and pending identities are shown', () => {
    assert.match(page, /<tr data-signer="&lt;sig&gt;"><td>&lt;sig&gt;<\/td><td>3<\/td><td>3<\/td>/);
    assert.match(
      page,
      /id="refused-reload">last refused change 2026-06-01T00:00:00.000Z \(CA_BUNDLE_INVALID\): &lt;img/,
    );
    assert.match(page, /confirmed 1, pending 3/);
    assert.match(page, /and 2 more/);
  });
});
