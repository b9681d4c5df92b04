// Browser tests of <snodo-search> embedded on another origin. Target: the real `snodo demo` server
// (default when target/debug/snodo exists) or the mock (SNODO_TEST_TARGET=mock).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { startHost, startTarget, launchBrowser, axe, fmtViolations, screenshotPath, watchDialogs, sample, freePort, TARGET } from './harness.mjs';
import { XSS } from './fixtures.mjs';

const WIDGET_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'widget.js');
let host; let target; let br; let data;
const dialogs = [];

before(async () => {
  host = await startHost();
  target = await startTarget(host.origin);
  br = await launchBrowser();
  data = await sample(target.base);
  console.log(`# target: ${target.kind} at ${target.base}; host ${host.origin}; ${data.total} records; sample word "${data.word}", region ${data.region}`);
});

after(async () => {
  await br?.close();
  await target?.stop();
  await host?.stop();
});

async function open(name, widgetHtml, { lang = 'it', viewport = { width: 1100, height: 900 }, base = target.base } = {}) {
  const url = host.page(name, { script: `${base}/widget.js`, widgetHtml, lang });
  const page = await br.browser.newPage({ viewport, reducedMotion: 'reduce' });
  watchDialogs(page, dialogs);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.errors = errors;
  await page.goto(url);
  return page;
}

const w = (page) => page.locator('snodo-search').first();
/** Waits until the widget's live count matches; on timeout, says what the widget showed instead. */
const waitCount = (page, re) => page.waitForFunction(
  ([src, flags]) => {
    const t = document.querySelector('snodo-search')?.shadowRoot?.querySelector('.cnt')?.textContent || '';
    return new RegExp(src, flags).test(t);
  }, [re.source, re.flags], { timeout: 15_000 }).catch(async (e) => {
  const shown = await page.evaluate(() => {
    const r = document.querySelector('snodo-search')?.shadowRoot;
    return { count: r?.querySelector('.cnt')?.textContent, error: r?.querySelector('.err')?.textContent };
  }).catch(() => null);
  throw new Error(`the widget's count never matched ${re}: ${JSON.stringify(shown)}`, { cause: e });
});

// Resolves once the widget has had no search in flight for 600 ms (bounded by the wait's timeout).
const settle = (page) => page.waitForFunction(() => {
  const r = document.querySelector('snodo-search')?.shadowRoot;
  const busy = !!r?.querySelector('.busy');
  const now = performance.now();
  if (busy || window.__snodoIdleSince === undefined) window.__snodoIdleSince = busy ? undefined : now;
  return !busy && window.__snodoIdleSince !== undefined && now - window.__snodoIdleSince >= 600;
}, null, { timeout: 15_000, polling: 100 });

test('widget.js is served as JavaScript and is under 20 KB gzipped', async () => {
  const res = await fetch(`${target.base}/widget.js`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/javascript/);
  const body = Buffer.from(await res.arrayBuffer());
  assert.deepEqual(body, fs.readFileSync(WIDGET_FILE), 'the server serves widget/widget.js as is');
  const gz = zlib.gzipSync(body, { level: 9 }).length;
  console.log(`# widget.js: ${body.length} bytes, ${gz} bytes gzipped (JS and CSS: the CSS is inside)`);
  assert.ok(gz < 20 * 1024, `gzipped size ${gz} must be under 20480`);
});

test('embedded without attributes on another origin: Italian UI, results and a live count', async () => {
  const page = await open('plain.html', '<snodo-search></snodo-search>');
  await waitCount(page, /\d+ risultat/);
  const count = await w(page).locator('.cnt').textContent();
  assert.match(count, new RegExp(`^${data.total} risultat`));
  assert.equal(await w(page).locator('.cnt').getAttribute('role'), 'status');
  assert.equal(await w(page).locator('.cnt').getAttribute('aria-live'), 'polite');
  assert.equal(await w(page).locator('label.lbl').textContent(), 'Cerca tra i processi partecipativi in Italia');
  assert.equal(await w(page).getByRole('searchbox', { name: 'Cerca tra i processi partecipativi in Italia' }).count(), 1);
  const cards = await w(page).locator('li.card').count();
  assert.equal(cards, Math.min(20, data.total));
  // every title links to the original platform, in a new window, without opener
  for (const a of await w(page).locator('.ttl a').all()) {
    assert.match(await a.getAttribute('href'), /^https?:\/\//);
    assert.equal(await a.getAttribute('target'), '_blank');
    assert.equal(await a.getAttribute('rel'), 'noopener');
  }
  // each harvested text carries its language
  const langs = await w(page).locator('.ttl span[lang]').evaluateAll((els) => els.map((e) => e.lang));
  assert.equal(langs.length, cards);
  // no missing value leaks into the text
  const text = await w(page).locator('ol').textContent();
  assert.doesNotMatch(text, /\b(null|undefined|NaN)\b|\[object/);
  // the host page's hostile CSS does not reach inside
  const btn = await w(page).locator('button.go').evaluate((b) => getComputedStyle(b).backgroundColor);
  assert.equal(btn, 'rgb(0, 102, 204)');
  assert.deepEqual(page.errors, []);
  await page.screenshot({ path: screenshotPath('widget-default-it.png'), fullPage: true });
  await page.close();
});

test('search as you type: debounced, stale requests cancelled, matched words marked, fast', async () => {
  const page = await open('type.html', '<snodo-search></snodo-search>');
  await waitCount(page, /risultat/);
  const requests = [];
  page.on('request', (r) => { if (r.url().includes('/api/v1/search')) requests.push(new URL(r.url()).searchParams.get('q')); });
  const input = w(page).getByRole('searchbox');
  await input.click();
  await input.pressSequentially(data.word, { delay: 30 });
  const typedAt = Date.now();
  await waitCount(page, new RegExp(`(risultat|Nessun).*${data.word}`));
  const elapsed = Date.now() - typedAt;
  console.log(`# results for "${data.word}" ${elapsed} ms after the last keystroke (debounce 120 ms); ${requests.length} requests for ${data.word.length} keystrokes`);
  assert.ok(requests.length < data.word.length, `debounced: ${requests.length} requests for ${data.word.length} keystrokes`);
  assert.equal(requests.at(-1), data.word);
  assert.ok(elapsed < 1000, `results in ${elapsed} ms`);
  const count = await w(page).locator('.cnt').textContent();
  const n = Number(/^(\d+)/.exec(count)?.[1] || 0);
  assert.ok(n >= 1, count);
  const marks = await w(page).locator('li.card mark').allTextContents();
  assert.ok(marks.length >= 1, 'snippets mark the matched words');
  assert.ok(marks.some((m) => m.toLowerCase().includes(data.word.slice(0, 4))), marks.join('|'));
  // a space after the word says it is finished: it is sent, once, so the word is not completed
  await input.press('Space');
  await input.press('Space');
  await page.waitForTimeout(300);
  assert.equal(requests.at(-1), `${data.word} `);
  // stale responses never overwrite newer ones: type, then immediately replace the query
  await input.fill(`${data.word.slice(0, 3)}`);
  await input.fill('zzqxnonesiste');
  await waitCount(page, /Nessun risultato per «zzqxnonesiste»/);
  await page.waitForTimeout(300);
  assert.match(await w(page).locator('.cnt').textContent(), /zzqxnonesiste/);
  assert.equal(await w(page).locator('li.card').count(), 0);
  await page.screenshot({ path: screenshotPath('widget-no-results-it.png') });
  await page.close();
});

test('stale requests are aborted (AbortController) when a newer one starts', async () => {
  const page = await open('abort.html', '<snodo-search></snodo-search>');
  await waitCount(page, /risultat/);
  // hold every search response for 400 ms so two searches overlap
  await page.route('**/api/v1/search?**', async (route) => { await new Promise((r) => setTimeout(r, 400)); await route.continue().catch(() => {}); });
  const failed = [];
  page.on('requestfailed', (r) => failed.push(r.failure()?.errorText));
  const input = w(page).getByRole('searchbox');
  await input.fill(data.word.slice(0, 4));
  await page.waitForTimeout(200);
  await input.fill(data.word);
  await waitCount(page, new RegExp(data.word));
  await page.waitForTimeout(500);
  assert.ok(failed.some((e) => /abort/i.test(e || '')), `an aborted request: ${failed.join(', ')}`);
  assert.match(await w(page).locator('.cnt').textContent(), new RegExp(data.word));
  await page.close();
});

test('filters by region and status with the facet selects, counts shown', async () => {
  const page = await open('filters.html', '<snodo-search></snodo-search>');
  await waitCount(page, /risultat/);
  const region = w(page).getByLabel('Regione');
  const options = await region.locator('option').allTextContents();
  assert.equal(options.length, 21, 'all 20 regions and "any"');
  assert.ok(options.some((o) => /\(\d+\)$/.test(o)), 'region options show counts');
  const regionName = (await region.locator(`option[value="${data.region}"]`).textContent()).replace(/ \(\d+\)$/, '');
  const expected = data.all.facets.region[data.region];
  assert.ok((await region.locator(`option[value="${data.region}"]`).textContent()).endsWith(`(${expected})`));
  const seen = [];
  page.on('request', (r) => { if (r.url().includes('/api/v1/search')) seen.push(new URL(r.url()).searchParams); });
  await region.selectOption(data.region);
  await waitCount(page, new RegExp(`^${expected} risultat`));
  assert.equal(seen.at(-1).get('region'), data.region);
  for (const t of await w(page).locator('li.card .info').allTextContents()) assert.ok(t.includes(regionName), `${t} is in ${regionName}`);

  const status = w(page).getByLabel('Stato');
  const openOpt = await status.locator('option[value="open"]').textContent();
  const nOpen = Number(/\((\d+)\)/.exec(openOpt)?.[1] ?? -1);
  await status.selectOption('open');
  await waitCount(page, nOpen === 0 ? /Nessun risultato/ : new RegExp(`^${nOpen} risultat`));
  assert.equal(seen.at(-1).get('status'), 'open');
  const badges = await w(page).locator('li.card .badge').allTextContents();
  assert.equal(badges.length, Math.min(nOpen, 20));
  assert.ok(badges.every((b) => b === 'Aperto'), badges.join(','));
  await page.screenshot({ path: screenshotPath('widget-filtered-it.png'), fullPage: true });
  await page.close();
});

test('attributes preset the search; English; compact mode', async () => {
  const seen = [];
  const page = await br.browser.newPage({ viewport: { width: 420, height: 800 } });
  watchDialogs(page, dialogs);
  page.on('request', (r) => { if (r.url().includes('/api/v1/search')) seen.push(new URL(r.url()).searchParams); });
  await page.goto(host.page('preset.html', { script: `${target.base}/widget.js`, lang: 'en', widgetHtml: `<snodo-search lang="en" region="${data.region}" status="open" limit="3" compact placeholder="Search your region"></snodo-search>` }));
  await waitCount(page, /result/);
  const p = seen[0];
  assert.equal(p.get('region'), data.region);
  assert.equal(p.get('status'), 'open');
  assert.equal(p.get('limit'), '3');
  assert.equal(p.get('lang'), 'en');
  assert.equal(await w(page).locator('select').count(), 0, 'compact: no filter selects');
  assert.equal(await w(page).getByRole('searchbox').getAttribute('placeholder'), 'Search your region');
  assert.equal(await w(page).locator('label.lbl').textContent(), 'Search participatory processes in Italy');
  assert.ok(await w(page).locator('li.card').count() <= 3);
  const badges = await w(page).locator('.badge').allTextContents();
  assert.ok(badges.every((b) => b === 'Open'), badges.join());
  await page.screenshot({ path: screenshotPath('widget-compact-en-mobile.png'), fullPage: true });
  await page.close();
});

test('a meeting card shows its day and time in Italy and the process it belongs to', async (t) => {
  const api = await (await fetch(`${target.base}/api/v1/search?kind=meeting&status=upcoming&limit=1`)).json();
  if (!api.total) { t.skip(`the ${target.kind} target has no upcoming meetings`); return; }
  const m = api.items[0];
  assert.ok(m.start_time && m.parent_title && m.parent_url, JSON.stringify(m));
  const page = await open('meeting.html', '<snodo-search kind="meeting" status="upcoming" limit="5"></snodo-search>');
  await waitCount(page, /\d+ risultat/);
  const card = w(page).locator('li.card').first();
  const time = card.locator('p.info time');
  assert.equal(await time.getAttribute('datetime'), m.start_time);
  const expected = await page.evaluate((ts) => new Intl.DateTimeFormat('it', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'Europe/Rome' }).format(new Date(ts)), m.start_time);
  assert.equal(await time.textContent(), expected);
  assert.match(expected, /\d{2}:\d{2}/, 'the time of day is shown');
  const part = card.locator('p.par');
  assert.equal(await part.textContent(), `Parte di ${m.parent_title}`);
  assert.equal(await part.locator('a').getAttribute('href'), m.parent_url);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('keyboard only: field, filters, more results, links; focus always visible', async () => {
  const page = await open('keys.html', '<snodo-search limit="5"></snodo-search>');
  await waitCount(page, /risultat/);
  const focused = () => page.evaluate(() => {
    let el = document.activeElement;
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
    const cs = getComputedStyle(el);
    return { tag: el.tagName, id: el.id, cls: el.className, text: el.textContent.trim().slice(0, 60), outline: cs.outlineStyle, outlineWidth: cs.outlineWidth };
  });
  await page.keyboard.press('Tab');
  let f = await focused();
  assert.equal(f.tag, 'INPUT');
  assert.equal(f.outline, 'solid', 'focus is visible on the field');
  await page.keyboard.type(data.word.slice(0, 5));
  await waitCount(page, new RegExp(data.word.slice(0, 5)));
  await page.keyboard.press('Tab'); // search button
  f = await focused();
  assert.equal(f.tag, 'BUTTON');
  assert.equal(f.outline, 'solid');
  await page.keyboard.press('Tab'); // kind
  await page.keyboard.press('Tab'); // status
  f = await focused();
  assert.equal(f.tag, 'SELECT');
  assert.match(f.id, /status$/);
  await page.keyboard.press('Escape');
  await page.keyboard.press('Tab'); // region
  await page.keyboard.press('Tab'); // place
  f = await focused();
  assert.equal(f.tag, 'INPUT');
  assert.match(f.id, /place$/);
  assert.equal(f.outline, 'solid');
  await page.keyboard.press('Tab'); // topic
  await page.keyboard.press('Tab'); // method
  f = await focused();
  assert.match(f.id, /method$/);
  await page.keyboard.press('Tab'); // source
  await page.keyboard.press('Tab'); // sort
  f = await focused();
  assert.match(f.id, /sort$/);
  // clear the query with the keyboard, then page through with "more results"
  await page.keyboard.press('Shift+Tab'); await page.keyboard.press('Shift+Tab'); await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Shift+Tab'); await page.keyboard.press('Shift+Tab'); await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Shift+Tab'); await page.keyboard.press('Shift+Tab'); await page.keyboard.press('Shift+Tab');
  f = await focused();
  assert.equal(f.tag, 'INPUT');
  assert.match(f.id, /q$/);
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Backspace');
  await page.keyboard.press('Enter');
  await waitCount(page, new RegExp(`^${data.total} risultat`));
  // A search debounced from the Backspace may still be on its way; a list re-rendered while
  // tabbing would drop the focus to <body>. Wait until the widget has been idle for a moment.
  await settle(page);
  // Tab through to the first result link
  for (let i = 0; i < 10; i++) await page.keyboard.press('Tab');
  f = await focused();
  assert.equal(f.tag, 'A', JSON.stringify(f));
  assert.equal(f.outline, 'solid');
  await page.screenshot({ path: screenshotPath('widget-keyboard-focus.png') });
  if (data.total > 5) {
    // reach "more results" and press Enter: five more cards, focus on the first new one
    for (let i = 0; i < 20; i++) {
      f = await focused();
      if (f.tag === 'BUTTON' && /Altri risultati/.test(f.text)) break;
      await page.keyboard.press('Tab');
    }
    assert.match(f.text, /Altri risultati/);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('snodo-search').shadowRoot.querySelectorAll('li.card').length > 5);
    f = await focused();
    assert.equal(f.tag, 'A');
    const idx = await page.evaluate(() => {
      const root = document.querySelector('snodo-search').shadowRoot;
      return [...root.querySelectorAll('li.card')].findIndex((li) => li.contains(root.activeElement));
    });
    assert.equal(idx, 5, 'focus moves to the first newly loaded result');
    assert.match(await w(page).locator('.cnt').textContent(), /mostrati 10 di/);
  }
  await page.close();
});

test('keyboard: a closed select changes with the arrow keys and filters', async () => {
  const page = await open('keys2.html', '<snodo-search></snodo-search>');
  await waitCount(page, /risultat/);
  await w(page).getByLabel('Stato').focus();
  await page.keyboard.press('ArrowDown');
  await waitCount(page, /risultat|Nessun/);
  await page.waitForFunction(() => document.querySelector('snodo-search').shadowRoot.querySelector('select[name=status]').value === 'open');
  await waitCount(page, new RegExp(`^(${data.all.facets.status.open ?? 0} risultat|Nessun)`));
  await page.close();
});

test('reduced motion is respected; harvested text in another language is marked', async () => {
  const page = await open('motion.html', '<snodo-search limit="100"></snodo-search>');
  await waitCount(page, /risultat/);
  const anim = () => w(page).locator('li.card').first().evaluate((e) => getComputedStyle(e).animationName);
  assert.equal(await anim(), 'none', 'no animation with prefers-reduced-motion: reduce');
  await page.emulateMedia({ reducedMotion: 'no-preference' });
  assert.equal(await anim(), 'fade');
  // each title and text carries the record's own language; the interface keeps the widget's
  const items = data.all.items;
  const langs = await w(page).locator('.ttl span[lang]').evaluateAll((els) => els.map((e) => e.lang));
  assert.deepEqual(langs, items.map((it) => it.lang));
  assert.equal(await w(page).locator('.sn').getAttribute('lang'), 'it');
  if (TARGET === 'mock') assert.ok(langs.includes('en'), 'the fixtures have an English record');
  await page.close();
});

test('axe-core: zero violations (Italian, English, results, errors)', async () => {
  const cases = [
    ['axe-it.html', '<snodo-search></snodo-search>', 'it', null],
    ['axe-en.html', '<snodo-search lang="en" heading-level="3"></snodo-search>', 'en', null],
    ['axe-q.html', '<snodo-search></snodo-search>', 'it', data.word],
    ['axe-en-on-it.html', '<snodo-search lang="en" compact></snodo-search>', 'it', null],
  ];
  for (const [name, html, lang, q] of cases) {
    const page = await open(name, html, { lang });
    await waitCount(page, /risultat|result/);
    if (q) { await w(page).getByRole('searchbox').fill(q); await waitCount(page, new RegExp(q)); }
    const v = await axe(page);
    assert.equal(v.length, 0, `${name}:\n${fmtViolations(v)}`);
    await page.close();
  }
  const port = await freePort();
  const page = await open('axe-err.html', `<snodo-search api="http://127.0.0.1:${port}"></snodo-search>`);
  await page.waitForFunction(() => document.querySelector('snodo-search').shadowRoot.querySelector('.err p'));
  const v = await axe(page);
  assert.equal(v.length, 0, `error state:\n${fmtViolations(v)}`);
  await page.close();
});

test('harvested XSS payloads never execute and never become markup', async () => {
  const before = dialogs.length;
  const page = await open('xss.html', '<snodo-search limit="100"></snodo-search>');
  await waitCount(page, /risultat/);
  for (const q of ['', data.word, 'bilancio', 'alert', 'script', 'img']) {
    await w(page).getByRole('searchbox').fill(q);
    await page.waitForTimeout(250);
  }
  await w(page).getByRole('searchbox').fill('');
  await waitCount(page, new RegExp(`^${data.total} risultat`));
  await page.waitForTimeout(300);
  const dom = await page.evaluate(() => {
    const root = document.querySelector('snodo-search').shadowRoot;
    const all = [...root.querySelectorAll('*')];
    return {
      scripts: root.querySelectorAll('script,img,svg,iframe,object,embed').length + document.querySelectorAll('img,svg,iframe').length,
      handlers: all.filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
      jsLinks: all.filter((e) => /^\s*javascript:/i.test(e.getAttribute('href') || '')).length,
      tags: [...new Set(all.map((e) => e.tagName.toLowerCase()))].sort(),
      text: root.textContent,
    };
  });
  assert.equal(dom.scripts, 0, 'no script/img/svg/iframe elements');
  assert.equal(dom.handlers, 0, 'no event-handler attributes');
  assert.equal(dom.jsLinks, 0, 'no javascript: links');
  const allowed = ['a', 'article', 'button', 'div', 'fieldset', 'form', 'h3', 'input', 'label', 'legend', 'li', 'mark', 'ol', 'option', 'p', 'select', 'span', 'time'];
  assert.deepEqual(dom.tags.filter((t) => !allowed.includes(t)), []);
  if (TARGET === 'mock') {
    assert.ok(dom.text.includes(XSS.title), 'the hostile title is shown as plain text');
    await w(page).getByRole('searchbox').fill('bilancio');
    await waitCount(page, /bilancio/);
    const txt = await w(page).locator('li.card .txt').first().textContent();
    assert.ok(txt.includes("<img src=x onerror=alert('xss-snippet')>"), txt);
    assert.ok(txt.includes('<b>'), 'entities decoded to text');
    const lnk = await w(page).getByText('Link malevolo di prova').count();
    assert.ok(lnk >= 0);
  }
  assert.equal(dialogs.length, before, `dialogs opened: ${dialogs.slice(before).join(', ')}`);
  await page.close();
});

test('errors are shown: service unreachable (it/en), 429 with Retry-After, invalid query', async () => {
  const port = await freePort();
  let page = await open('down.html', `<snodo-search api="http://127.0.0.1:${port}"></snodo-search>`);
  const alert = w(page).getByRole('alert');
  await alert.getByText('non è raggiungibile').waitFor();
  assert.equal(await alert.getByRole('button', { name: 'Riprova' }).count(), 1);
  await page.screenshot({ path: screenshotPath('widget-error-unreachable-it.png') });
  await page.close();

  page = await open('down-en.html', `<snodo-search lang="en" api="http://127.0.0.1:${port}"></snodo-search>`, { lang: 'en' });
  await w(page).getByRole('alert').getByText('cannot be reached').waitFor();
  await page.close();

  page = await open('429.html', '<snodo-search></snodo-search>');
  await waitCount(page, /risultat/);
  await page.route('**/api/v1/search?**', (route) => route.fulfill({
    status: 429,
    headers: { 'content-type': 'application/problem+json', 'retry-after': '7', 'access-control-allow-origin': host.origin, 'access-control-expose-headers': 'Retry-After' },
    body: JSON.stringify({ type: 'about:blank', title: 'Too Many Requests', status: 429, detail: 'rate limit', instance: '/api/v1/search' }),
  }));
  await w(page).getByRole('searchbox').fill('acqua');
  await w(page).getByRole('alert').getByText('Troppe ricerche in poco tempo. Riprova tra 7 secondi.').waitFor();
  assert.equal(await w(page).locator('li.card').count(), 0);
  await page.screenshot({ path: screenshotPath('widget-error-429-it.png') });
  // recovery: the retry button searches again
  await page.unroute('**/api/v1/search?**');
  await w(page).getByRole('alert').getByRole('button', { name: 'Riprova' }).click();
  await waitCount(page, /risultat/);
  assert.equal(await w(page).locator('.err').textContent(), '');
  await page.close();

  page = await open('400.html', '<snodo-search region="99"></snodo-search>');
  await w(page).getByRole('alert').getByText('La ricerca non è valida').waitFor();
  await page.close();
});

test('screenshots: desktop with a query, mobile, English', async () => {
  let page = await open('shot.html', '<snodo-search></snodo-search>');
  await waitCount(page, /risultat/);
  await w(page).getByRole('searchbox').fill(data.word);
  await waitCount(page, new RegExp(data.word));
  await page.screenshot({ path: screenshotPath('widget-query-it.png'), fullPage: true });
  await page.close();
  page = await open('shot-m.html', '<snodo-search lang="en"></snodo-search>', { lang: 'en', viewport: { width: 375, height: 800 } });
  await waitCount(page, /result/);
  await page.screenshot({ path: screenshotPath('widget-mobile-en.png'), fullPage: false });
  await page.close();
  assert.deepEqual(dialogs, []);
});

// Last in this file: it uses up the loopback client's rate limit on the real server.
test('a real 429 from the server reaches the widget as "too many searches"', {
  skip: TARGET !== 'real' && 'the mock has no rate limit',
}, async (t) => {
  // a server of its own with the shipped limit (the shared one has none)
  const limitedTarget = await startTarget(host.origin, { rateLimitPerMinute: 300 });
  t.after(() => limitedTarget.stop());
  const page = await open('ratelimit.html', '<snodo-search></snodo-search>', { base: limitedTarget.base });
  await waitCount(page, /risultat/);
  // keep the loopback client's bucket empty (the refill is a few tokens a second) while the widget
  // searches; bounded: at most 400 requests in at most 10 s
  let limited = 0;
  let stop = false;
  const hammer = (async () => {
    const until = Date.now() + 10_000;
    for (let i = 0; i < 400 && !stop && Date.now() < until; i++) {
      const r = await fetch(`${limitedTarget.base}/api/v1/search?limit=1&q=x${i}`);
      if (r.status === 429) limited++;
    }
  })();
  try {
    const alert = w(page).getByRole('alert').locator('p');
    for (let attempt = 0; attempt < 10 && !(await alert.count()); attempt++) {
      while (!limited) await new Promise((r) => setTimeout(r, 10));
      await w(page).getByRole('searchbox').fill(`acqua ${attempt}`);
      await w(page).getByRole('button', { name: 'Cerca' }).click();
      await page.waitForTimeout(300);
    }
    assert.ok(limited > 0, 'the server rate-limits');
    assert.match(await w(page).getByRole('alert').textContent(), /Troppe ricerche in poco tempo/);
  } finally {
    stop = true;
    await hammer;
  }
  await page.close();
});
