// Shared set-up for the browser tests: the Snodo server under test (the real `snodo demo` binary, or
// the mock when SNODO_TEST_TARGET=mock or the binary is missing), a host site on another loopback
// origin, Debian's Chromium through playwright-core, axe-core, and the artefacts folder.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { startMock } from './mock-server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
export const REPO = path.resolve(here, '..', '..');
export const ARTIFACTS = process.env.SNODO_ARTIFACTS || path.join(REPO, 'artifacts');
export const SNODO_BIN = process.env.SNODO_BIN || path.join(REPO, 'target', 'debug', 'snodo');
export const TARGET = process.env.SNODO_TEST_TARGET || (fs.existsSync(SNODO_BIN) ? 'real' : 'mock');
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const BROWSER_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const freePort = () => new Promise((resolve, reject) => {
  const s = net.createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});
export { freePort };

/** The host site: another origin that embeds the widget from the Snodo server, like a town's site. */
export async function startHost() {
  const pages = new Map();
  const server = http.createServer((req, res) => {
    const body = pages.get(new URL(req.url, 'http://x').pathname);
    if (!body) { res.writeHead(404, { 'content-type': 'text/plain' }); return res.end('not found'); }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    /** Publishes a host page that embeds the widget with `widgetHtml`; returns its URL. */
    page(name, { script, widgetHtml, snippet, lang = 'it', title = 'Comune di Esempio' }) {
      pages.set(`/${name}`, `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>body{margin:0;font-family:Georgia,serif;background:#fff;color:#222} header{background:#17324d;color:#fff;padding:1rem 2rem}
main{max-width:60rem;margin:0 auto;padding:1rem 2rem} h1{margin:0;font-size:1.5rem}
/* hostile host CSS that must not leak into the widget */ input,button,select{all:unset} li{color:red!important}</style>
${snippet ? '' : `<script type="module" src="${script}"></script>`}</head>
<body><header><h1>${title}</h1></header><main><h2>${lang === 'en' ? 'Participate' : 'Partecipa'}</h2>
${snippet || widgetHtml}
</main></body></html>`);
      return `${origin}/${name}`;
    },
    stop: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}

/** The admin token the real demo runs with, for the console's tests. */
export const ADMIN_TOKEN = 'widget-test-token';

/** Starts the server under test; `corsOrigin` restricts cross-origin reads to that origin (the
 * shipped default, with no restriction, when it is null). With no rate limit unless
 * `rateLimitPerMinute` gives one: the suite searches from one address far faster than a visitor. */
export async function startTarget(corsOrigin = null, { rateLimitPerMinute = 0 } = {}) {
  if (TARGET === 'mock') {
    const m = await startMock({ corsOrigin });
    return { kind: 'mock', base: m.base, stop: m.stop };
  }
  if (!fs.existsSync(SNODO_BIN)) throw new Error(`SNODO_TEST_TARGET=real but ${SNODO_BIN} does not exist: run \`cargo build -p snodo-cli\` or set SNODO_BIN`);
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snodo-widget-test-'));
  const args = ['demo', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--rate-limit-per-minute', String(rateLimitPerMinute)];
  if (corsOrigin) args.push('--cors-allow-origin', corsOrigin);
  const child = spawn(SNODO_BIN, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SNODO_ADMIN_TOKEN: ADMIN_TOKEN, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  let log = '';
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`snodo demo did not print "listening on" within 120 s:\n${log}`)), 120_000);
    const onData = (d) => {
      log += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(m[1].replace(/\/+$/, '')); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => { log += d; });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`snodo demo exited with ${code} before listening:\n${log}`)); });
  });
  return {
    kind: 'real', base,
    stop: async () => {
      if (child.exitCode == null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// playwright-core's launch() starts Chromium with a fresh, empty profile of its own (a new
// --user-data-dir under the temp folder, removed on close).
export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: BROWSER_ARGS,
  });
  return { browser, close: () => browser.close() };
}

/** Runs axe-core on the page (shadow roots included) and returns the violations. */
export async function axe(page, context) {
  // evaluated through the DevTools protocol: works under the page's CSP (axe needs JavaScript on)
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async (ctx) => {
    const r = await window.axe.run(ctx || document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => `${n.target.join(' ')} :: ${n.failureSummary}`) }));
  }, context);
}

export const fmtViolations = (v) => v.map((x) => `${x.id} (${x.impact}): ${x.help}\n  ${x.nodes.join('\n  ')}`).join('\n');

export function screenshotPath(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}

/** Collects every dialog (alert/confirm/prompt) a page opens: harvested payloads must never run. */
export function watchDialogs(page, into) {
  page.on('dialog', async (d) => { into.push(d.message()); await d.dismiss().catch(() => {}); });
}

/** Facts about the data the server holds, so the tests work on the mock's fixtures and on the demo's. */
export async function sample(base) {
  const all = await (await fetch(`${base}/api/v1/search?limit=100`)).json();
  const words = new Map();
  for (const it of all.items) {
    for (const w of String(it.title).toLowerCase().split(/[^\p{L}]+/u)) if (w.length >= 6) words.set(w, (words.get(w) || 0) + 1);
  }
  // a word that occurs in several titles but not in all: a query with a handful of results
  const word = [...words.entries()].filter(([, n]) => n >= 2 && n < all.items.length).sort((a, b) => b[1] - a[1])[0]?.[0]
    || [...words.keys()][0];
  const regions = Object.entries(all.facets.region || {}).sort((a, b) => b[1] - a[1]);
  return { all, word, region: regions[0]?.[0], total: all.total };
}
