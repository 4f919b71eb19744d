/**
 * The admin page (GET / on the admin port) and its login form: self-contained HTML with one
 * inline style and one inline script, both allowed by their SHA-256 in the
 * Content-Security-Policy (CSP Level 3 §8.3), nothing else loaded. The script polls
 * /status.json every 2 s and computes rates, the p99 and the error share from the
 * difference to the poll of about 10 s before. Every value goes into the page as text
 * (textContent, setAttribute), never as markup. No token is ever in the page.
 */
import { createHash } from 'node:crypto'
import { histogramQuantile } from './quantile.ts'

const STYLE = `
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--fg:#1b1f24;--muted:#5f6b7a;--line:#e2e5ea;--ok:#137333;--okbg:#e6f4ea;--bad:#b3261e;--badbg:#fce8e6;--warn:#8a5a00;--warnbg:#fef3d6;--accent:#1a5fd0}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--card:#1a1e24;--fg:#e6e9ee;--muted:#9aa5b4;--line:#2b313a;--ok:#81c995;--okbg:#1e3325;--bad:#f28b82;--badbg:#3c1f1e;--warn:#fdd663;--warnbg:#3a3220;--accent:#8ab4f8}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.25rem 1rem;padding:.75rem 1rem;border-bottom:1px solid var(--line);background:var(--card)}
header h1{font-size:1.1rem;margin:0}
header .meta{color:var(--muted);font-size:.85rem}
header form{margin-left:auto}
main{display:grid;gap:1rem;padding:1rem;grid-template-columns:repeat(auto-fit,minmax(min(100%,26rem),1fr));max-width:90rem;margin:0 auto}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:.75rem 1rem;min-width:0}
section.wide{grid-column:1/-1}
h2{font-size:1rem;margin:.1rem 0 .6rem}
h3{font-size:.92rem;margin:.8rem 0 .3rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:.35rem .5rem;text-align:right;border-bottom:1px solid var(--line);white-space:nowrap}
th{color:var(--muted);font-weight:600;font-size:.8rem}
th:first-child,td:first-child{text-align:left;white-space:normal;overflow-wrap:anywhere;min-width:6rem}
tr:last-child td{border-bottom:0}
small,.muted{color:var(--muted)}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.8rem;font-weight:600}
.ok{color:var(--ok);background:var(--okbg)}.bad{color:var(--bad);background:var(--badbg)}.warn{color:var(--warn);background:var(--warnbg)}.unknown{color:var(--muted);background:var(--bg)}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(7.5rem,1fr));gap:.5rem}
.tile{border:1px solid var(--line);border-radius:8px;padding:.45rem .6rem}
.tile b{display:block;font-size:1.2rem;font-variant-numeric:tabular-nums}
.tile span{color:var(--muted);font-size:.8rem}
ol{margin:0;padding:0;list-style:none}
li{padding:.35rem 0;border-bottom:1px solid var(--line)}
li:last-child{border-bottom:0}
.note{color:var(--muted);font-size:.85rem;margin:.4rem 0 0}
button{font:inherit;padding:.35rem .8rem;border-radius:6px;border:1px solid var(--line);background:var(--card);color:var(--fg);cursor:pointer}
.login{max-width:24rem;margin:12vh auto;padding:1.25rem}
.login input{display:block;width:100%;font:inherit;padding:.5rem;margin:.4rem 0 .8rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
.error{color:var(--bad)}
@media (max-width:40rem){main{padding:.5rem;gap:.5rem}section{padding:.6rem}th,td{padding:.3rem .3rem}body{font-size:14px}
table.stack thead{display:none}table.stack tr{display:flex;flex-wrap:wrap;gap:.2rem .9rem;padding:.45rem 0;border-bottom:1px solid var(--line)}
table.stack td{border:0;padding:0;text-align:left}table.stack td:first-child{flex-basis:100%;font-weight:600}
table.stack td[data-label]::before{content:attr(data-label) " ";color:var(--muted);font-size:.8rem}}
`

const SCRIPT = `
'use strict';
const quantile = (${histogramQuantile.toString()});
const POLL_MS = 2000, WINDOW_MS = 10000;
let history = [];
const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const c of children) if (c !== undefined && c !== null) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}
const cell = (field, value, cls, label) => el('td', { 'data-field': field, class: cls, 'data-label': label }, value);
const badge = (text, cls) => el('span', { class: 'badge ' + cls }, text);
const dash = '\\u2014';
function num(n) { return n === null || n === undefined ? dash : n.toLocaleString('en-US'); }
function rate(n) { return n === null ? dash : n >= 100 ? n.toFixed(0) : n.toFixed(1); }
function ms(seconds) { return seconds === null ? dash : seconds * 1000 >= 100 ? (seconds * 1000).toFixed(0) + ' ms' : (seconds * 1000).toFixed(1) + ' ms'; }
function pct(x) { return x === null ? dash : (x * 100).toFixed(x > 0 && x < 0.1 ? 2 : 1) + ' %'; }
function bytes(n) {
  if (n === null || n === undefined) return dash;
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + ' ' + units[i];
}
function age(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  if (seconds < 60) return seconds + ' s';
  if (seconds < 3600) return Math.floor(seconds / 60) + ' min ' + (seconds % 60) + ' s';
  if (seconds < 86400) return Math.floor(seconds / 3600) + ' h ' + Math.floor((seconds % 3600) / 60) + ' min';
  return Math.floor(seconds / 86400) + ' d ' + Math.floor((seconds % 86400) / 3600) + ' h';
}
const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);

/** The poll about WINDOW_MS before the newest; counters that went back (a restart) start the window anew. */
function windowBase(data) {
  const routes = new Map(data.routes.map((r) => [r.name, r]));
  const sample = { time: data.time, routes, cache: data.cache.results };
  const last = history[history.length - 1];
  const reset = last && data.routes.some((r) => { const b = last.routes.get(r.name); return b && r.requests < b.requests; });
  if (reset || (last && data.time <= last.time)) history = [];
  history.push(sample);
  while (history.length > 2 && history[1].time <= data.time - WINDOW_MS) history.shift();
  return history.length > 1 ? history[0] : null;
}

function renderRoutes(data, base) {
  const seconds = base ? (data.time - base.time) / 1000 : 0;
  $('window').textContent = base ? 'over the last ' + Math.round(seconds) + ' s' : 'rates after the next poll';
  const rows = data.routes.map((r) => {
    const b = base && base.routes.get(r.name);
    let rps = null, p99 = null, errors = null;
    if (base && seconds > 0) {
      const n = r.requests - (b ? b.requests : 0);
      rps = n / seconds;
      if (n > 0) {
        errors = (r.errors - (b ? b.errors : 0)) / n;
        p99 = quantile(0.99, data.latencyBuckets, r.latency.map((c, i) => c - (b ? b.latency[i] : 0)));
      }
    }
    const where = r.path === null ? 'built in' : (r.host ? r.host : '') + r.path + (r.upstream ? ' \\u2192 ' + r.upstream : '');
    return el('tr', { 'data-route': r.name },
      el('td', {}, r.name, el('br'), el('small', {}, where)),
      cell('rps', rate(rps)), cell('p99', ms(p99)),
      cell('errors', pct(errors), errors > 0 ? 'bad' : undefined), cell('requests', num(r.requests)));
  });
  $('routes').replaceChildren(...rows);
  $('metrics-off').hidden = data.metrics;
}

function breakerOf(states) {
  if (states.length === 0) return badge('no worker', 'unknown');
  const open = states.filter((s) => s !== 'closed');
  if (open.length === 0) return badge('closed', 'ok');
  const worst = open.includes('open') ? 'open' : 'half-open';
  return badge(worst + ' ' + open.length + '/' + states.length, worst === 'open' ? 'bad' : 'warn');
}

function renderUpstreams(data) {
  const blocks = data.upstreams.map((u) => {
    const rows = u.targets.map((t) => el('tr', { 'data-target': t.url },
      el('td', {}, t.url, t.weight !== 1 ? el('small', {}, ' \\u00d7' + t.weight) : null),
      cell('health', badge(t.health, t.health === 'healthy' ? 'ok' : t.health === 'unhealthy' ? 'bad' : 'unknown')),
      cell('ejected', t.ejected ? badge('ejected ' + t.ejectedBy + '/' + data.workers.length, 'warn') : 'no', undefined, 'ejected'),
      cell('ejections', num(t.ejections), undefined, 'ejections'), cell('inflight', num(t.inflight), undefined, 'in flight')));
    return el('div', { 'data-upstream': u.name },
      el('h3', {}, u.name + ' ', el('small', {}, u.balancing + ' \\u00b7 breaker '), breakerOf(u.breaker)),
      el('div', { class: 'scroll' }, el('table', { class: 'stack' },
        el('thead', {}, el('tr', {}, el('th', {}, 'target'), el('th', {}, 'health'), el('th', {}, 'ejected'), el('th', {}, 'ejections'), el('th', {}, 'in flight'))),
        el('tbody', {}, ...rows))),
      u.healthCheck ? null : el('p', { class: 'note' }, 'No healthCheck: health unknown; passive ejection still applies.'));
  });
  $('upstreams').replaceChildren(...(blocks.length ? blocks : [el('p', { class: 'muted' }, 'No upstreams.')]));
}

function tile(field, value, label) { return el('div', { class: 'tile', 'data-field': field }, el('b', {}, value), el('span', {}, label)); }

function renderCache(data, base) {
  const c = data.cache, lookups = sum(c.results);
  let recent = null;
  if (base) {
    const n = lookups - sum(base.cache);
    if (n > 0) recent = ((c.results.hit || 0) - (base.cache.hit || 0)) / n;
  }
  const tiles = [
    tile('hit-ratio', pct(lookups > 0 ? (c.results.hit || 0) / lookups : null), 'hit ratio since start'),
    tile('hit-ratio-recent', pct(recent), 'hit ratio, last ' + (base ? Math.round((data.time - base.time) / 1000) : 0) + ' s'),
    tile('lookups', num(lookups), 'lookups'),
    tile('entries', num(c.entries), 'entries'),
    tile('bytes', bytes(c.bytes), 'held'),
    tile('evictions', num(c.evictions), 'evictions'),
  ];
  if (c.shared) tiles.push(tile('shared-entries', num(c.shared.entries), 'shared tier entries'), tile('shared-bytes', bytes(c.shared.bytes), 'shared tier held'));
  $('cache').replaceChildren(...tiles);
}

function renderWorkers(data) {
  const rows = data.workers.map((w) => el('tr', { 'data-pid': w.pid },
    el('td', { 'data-label': 'pid' }, String(w.pid)),
    cell('state', w.state), cell('rss', bytes(w.rssBytes), undefined, 'RSS'), cell('requests', num(w.requests), undefined, 'requests'),
    cell('age', age((data.time - w.startedAt) / 1000), undefined, 'up'), cell('reason', w.reason + ' (gen ' + w.generation + ')', undefined, 'started by')));
  $('workers').replaceChildren(...rows);
  const r = data.restarts;
  $('restarts').textContent = 'Restarts since start: crash ' + (r.crash || 0) + ' \\u00b7 recycle ' + (r.recycle || 0) + ' \\u00b7 reload ' + (r.reload || 0);
}

function renderReloads(data) {
  const items = data.reloads.map((r) => el('li', { 'data-ok': String(r.ok) },
    badge(r.ok ? 'ok' : 'failed', r.ok ? 'ok' : 'bad'), ' ', new Date(r.time).toLocaleString(),
    r.error ? el('div', { class: 'error' }, r.error) : null));
  const none = data.mode === 'single-process' ? 'Single-process mode does not reload.' : 'No reload since start (SIGHUP reloads).';
  $('reloads').replaceChildren(...(items.length ? items : [el('li', { class: 'muted' }, none)]));
}

let lastOk = 0;
function renderState(text, cls) { const s = $('state'); s.replaceChildren(badge(text, cls)); }
async function poll() {
  try {
    const res = await fetch('/status.json', { cache: 'no-store', credentials: 'same-origin' });
    // The session ended (expired, new token): the page itself shows the login form.
    if (res.status === 401) { location.reload(); return; }
    if (!res.ok) throw new Error('status ' + res.status);
    const data = await res.json();
    const base = windowBase(data);
    $('version').textContent = 'v' + data.version + ' \\u00b7 ' + data.mode + ' \\u00b7 up ' + age(data.uptimeSeconds);
    $('logout').hidden = !data.auth;
    renderRoutes(data, base); renderUpstreams(data); renderCache(data, base); renderWorkers(data); renderReloads(data);
    lastOk = Date.now();
    renderState('live', 'ok');
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  } catch (err) {
    renderState(lastOk ? 'no answer for ' + age((Date.now() - lastOk) / 1000) : 'no answer', 'bad');
  }
  setTimeout(poll, POLL_MS);
}
poll();
`

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`

/**
 * Only this page's own style and script run; fetches go to this origin; forms post only to
 * it; no frame may embed it (clickjacking); no <base> may redirect its relative URLs.
 */
const CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ')

/** Headers of both pages: no caching (the page follows a login), no sniffing, no framing, no Referer to other sites. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Not no-referrer: with it a form POST carries `Origin: null` (Fetch §3.1), which the admin port refuses.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
}

const head = (title: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title}</title><style>${STYLE}</style></head>`

/** The live page. */
export const ADMIN_PAGE = `${head('bun-gateway admin')}<body>
<header><h1>bun-gateway</h1><span class="meta" id="version"></span><span id="state"></span>
<form method="post" action="/logout" id="logout" hidden><button type="submit">Log out</button></form></header>
<main>
<section class="wide"><h2>Routes <small id="window"></small></h2>
<p class="note" id="metrics-off" hidden>Metrics are off (metrics.enabled: false): no request counts.</p>
<div class="scroll"><table><thead><tr><th>route</th><th title="requests per second">req/s</th><th title="99th percentile time to the response head">p99</th><th title="share of 5xx answers">5xx</th><th>total</th></tr></thead><tbody id="routes"></tbody></table></div></section>
<section class="wide"><h2>Upstreams</h2><div id="upstreams"></div></section>
<section class="wide"><h2>Workers</h2><div class="scroll"><table class="stack"><thead><tr><th>pid</th><th>state</th><th>RSS</th><th>requests</th><th>up</th><th>started by</th></tr></thead><tbody id="workers"></tbody></table></div><p class="note" id="restarts"></p></section>
<section><h2>Cache</h2><div class="tiles" id="cache"></div></section>
<section><h2>Reloads</h2><ol id="reloads"></ol></section>
</main>
<script>${SCRIPT}</script>
</body></html>`

/** The login form: the token goes in a POST body to /login, never in a URL. */
export function loginPage(failed: boolean): string {
  const error = failed ? '<p class="error" role="alert">That is not the admin token.</p>' : ''
  return `${head('bun-gateway admin: log in')}<body><section class="login"><h2>bun-gateway admin</h2>${error}
<form method="post" action="/login"><label for="token">Admin token (<code>admin.bearerToken</code>)</label>
<input id="token" name="token" type="password" autocomplete="off" required autofocus>
<button type="submit">Log in</button></form></section></body></html>`
}
