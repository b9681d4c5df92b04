// A small stand-in for `snodo serve`, following the HTTP API contract: serves widget.js, the search
// and sources endpoints over fixture data (with hostile strings), CORS for one allowed origin, and,
// when SNODO_PAGE_SAMPLES names a folder of pages rendered by crates/api/src/page.rs, those pages.
// Run alone: node tests/mock-server.mjs [port] [allowed-origin]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RECORDS, SOURCES } from './fixtures.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const WIDGET = path.join(here, '..', 'widget.js');
const REGION_NAMES = {
  '01': 'Piemonte', '02': "Valle d'Aosta", '03': 'Lombardia', '04': 'Trentino-Alto Adige', '05': 'Veneto',
  '06': 'Friuli-Venezia Giulia', '07': 'Liguria', '08': 'Emilia-Romagna', '09': 'Toscana', '10': 'Umbria',
  '11': 'Marche', '12': 'Lazio', '13': 'Abruzzo', '14': 'Molise', '15': 'Campania', '16': 'Puglia',
  '17': 'Basilicata', '18': 'Calabria', '19': 'Sicilia', '20': 'Sardegna',
};
const escape = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;');
const fold = (s) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
const today = () => new Date().toISOString().slice(0, 10);

export function statusOf(r, t = today()) {
  if (r.start_date && r.start_date > t) return 'upcoming';
  if (r.end_date && r.end_date < t) return 'closed';
  return 'open';
}

function problem(res, status, title, detail, extra = {}) {
  res.writeHead(status, { 'content-type': 'application/problem+json', ...extra });
  res.end(JSON.stringify({ type: 'about:blank', title, status, detail, instance: null }));
}

function snippet(text, words) {
  if (!words.length) return null;
  const parts = text.split(/(\s+)/);
  let hit = false;
  const out = parts.map((p, i) => {
    const last = i === parts.length - 1;
    const f = fold(p.replace(/[^\p{L}\p{N}]/gu, ''));
    if (f && words.some((w, j) => f === w || (j === words.length - 1 && f.startsWith(w)) || (last && f.startsWith(w)))) {
      hit = true;
      return `<mark>${escape(p)}</mark>`;
    }
    return escape(p);
  }).join('');
  return hit ? out : null;
}

function search(params) {
  const q = (params.get('q') || '').trim();
  const words = q ? fold(q).split(/[^\p{L}\p{N}]+/u).filter(Boolean) : [];
  for (const [k, allowed] of [['status', ['upcoming', 'open', 'closed']], ['sort', ['relevance', 'newest', 'closing']], ['lang', ['it', 'en']]]) {
    const v = params.get(k);
    if (v && !allowed.includes(v)) return { error: [400, 'Invalid parameter', `\`${k}\` must be one of: ${allowed.join(', ')}`] };
  }
  const region = params.get('region');
  if (region && !REGION_NAMES[region]) return { error: [400, 'Invalid parameter', '`region` must be a 2-digit ISTAT region code (01..20)'] };
  const limit = params.has('limit') ? Number(params.get('limit')) : 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) return { error: [400, 'Invalid parameter', '`limit` must be between 1 and 100'] };
  const offset = Number(params.get('offset') || 0);
  let hits = RECORDS.map((r) => ({ ...r, status: statusOf(r) })).filter((r) => {
    if (!words.length) return true;
    const toks = fold(`${r.title} ${r.summary}`).split(/[^\p{L}\p{N}]+/u);
    return words.every((w, i) => toks.some((t) => (i === words.length - 1 ? t.startsWith(w) : t === w || t.startsWith(w))));
  });
  for (const f of ['kind', 'status', 'region', 'source']) {
    const v = params.get(f);
    if (v) hits = hits.filter((r) => r[f] === v);
  }
  const facets = { kind: {}, status: {}, region: {}, source: {} };
  for (const r of hits) for (const f of Object.keys(facets)) if (r[f]) facets[f][r[f]] = (facets[f][r[f]] || 0) + 1;
  const sort = params.get('sort') || 'relevance';
  if (sort === 'newest') hits.sort((a, b) => (b.start_date || '').localeCompare(a.start_date || ''));
  if (sort === 'closing') hits.sort((a, b) => (a.end_date || '9999').localeCompare(b.end_date || '9999'));
  const items = hits.slice(offset, offset + limit).map(({ rawSnippet, ...r }) => ({
    ...r,
    source_name: SOURCES.find((s) => s.id === r.source)?.name || r.source,
    region_name: REGION_NAMES[r.region] || null,
    snippet: words.length && rawSnippet ? rawSnippet : snippet(`${r.title} — ${r.summary}`, words),
  }));
  return { total: hits.length, limit, offset, items, facets };
}

export function startMock({ port = 0, corsOrigin = null, delayMs = 0 } = {}) {
  const samples = process.env.SNODO_PAGE_SAMPLES;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const origin = req.headers.origin;
    const cors = origin && (corsOrigin === '*' || origin === server.corsOrigin)
      ? { 'access-control-allow-origin': origin, vary: 'Origin', 'access-control-expose-headers': 'Retry-After' } : {};
    const json = (body, status = 200) => {
      res.writeHead(status, { 'content-type': 'application/json', ...cors });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'OPTIONS') { res.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET' }); return res.end(); }
    if (url.pathname === '/widget.js') {
      // module scripts are fetched in CORS mode: the public widget must be loadable from any origin
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache', 'access-control-allow-origin': '*' });
      return res.end(fs.readFileSync(WIDGET));
    }
    if (url.pathname === '/api/v1/sources') return json(SOURCES);
    if (url.pathname === '/api/v1/search') {
      const out = search(url.searchParams);
      if (out.error) { const [s, t, d] = out.error; res.writeHead(s, { 'content-type': 'application/problem+json', ...cors }); return res.end(JSON.stringify({ type: 'about:blank', title: t, status: s, detail: d, instance: req.url })); }
      return setTimeout(() => json(out), delayMs);
    }
    if (samples) {
      const file = { '/': 'home-it.html', '/en/': 'home-en.html', '/embed': 'embed-it.html', '/en/embed': 'embed-en.html' }[url.pathname];
      const p = file && path.join(samples, file);
      if (p && fs.existsSync(p)) {
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          // the CSP `snodo serve` sends with its pages
          'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'; form-action 'self'",
        });
        return res.end(fs.readFileSync(p));
      }
    }
    problem(res, 404, 'Not Found', `no route for ${url.pathname}`, cors);
  });
  server.corsOrigin = corsOrigin;
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => {
    const base = `http://127.0.0.1:${server.address().port}`;
    resolve({ base, server, stop: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }) });
  }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [port = '8787', origin = '*'] = process.argv.slice(2);
  startMock({ port: Number(port), corsOrigin: origin }).then(({ base }) => console.log(`listening on ${base}`));
}
