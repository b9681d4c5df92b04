// Browser tests of the public pages (/, /en/, /embed) served by `snodo demo`. Against the mock
// (SNODO_TEST_TARGET=mock) they run only when SNODO_PAGE_SAMPLES names pages rendered by page.rs
// (`SNODO_PAGE_SAMPLES=DIR cargo test -p snodo-api --lib page::tests::write_samples`), and the
// server-side search tests are skipped: the mock serves those pages as static files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHost, startTarget, launchBrowser, axe, fmtViolations, screenshotPath, watchDialogs, sample, TARGET } from './harness.mjs';

const canRun = TARGET === 'real' || Boolean(process.env.SNODO_PAGE_SAMPLES);
const realOnly = TARGET === 'real' ? {} : { skip: 'needs the real server (server-side search)' };
let host; let target; let br; let data;
const dialogs = [];

before(async () => {
  if (!canRun) return;
  host = await startHost();
  target = await startTarget(host.origin);
  br = await launchBrowser();
  data = await sample(target.base);
});

after(async () => {
  await br?.close();
  await target?.stop();
  await host?.stop();
});

/** `js: false` turns JavaScript off; `widget: false` keeps JavaScript on (for axe) but never loads
 * widget.js, so the page stays as served: the state a visitor without JavaScript sees. */
async function open(path, { js = true, widget = true, viewport = { width: 1280, height: 900 } } = {}) {
  const ctx = await br.browser.newContext({ javaScriptEnabled: js, viewport, reducedMotion: 'reduce' });
  const page = await ctx.newPage();
  if (!widget) await page.route('**/widget.js', (r) => r.abort());
  watchDialogs(page, dialogs);
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  await page.goto(`${target.base}${path}`);
  page.done = () => ctx.close();
  return page;
}

const widgetCount = (page) => page.waitForFunction(() => /risultat|result/i.test(document.querySelector('snodo-search')?.shadowRoot?.querySelector('.cnt')?.textContent || ''), null, { timeout: 15_000 }).catch(async (e) => {
  const shown = await page.evaluate(() => {
    const r = document.querySelector('snodo-search')?.shadowRoot;
    return { count: r?.querySelector('.cnt')?.textContent, error: r?.querySelector('.err')?.textContent };
  }).catch(() => null);
  throw new Error(`the widget never showed a result count: ${JSON.stringify(shown)}`, { cause: e });
});

/** Only markup the page itself writes: no injected element, handler or javascript: link. */
async function assertInert(page) {
  const bad = await page.evaluate(() => {
    const roots = [document, ...[...document.querySelectorAll('snodo-search')].map((e) => e.shadowRoot).filter(Boolean)];
    const out = [];
    for (const r of roots) {
      for (const el of r.querySelectorAll('*')) {
        const tag = el.tagName.toLowerCase();
        if (['img', 'iframe', 'object', 'embed'].includes(tag)) out.push(tag);
        if (tag === 'script' && !/\/widget\.js$/.test(el.getAttribute('src') || '')) out.push('script');
        if ([...el.attributes].some((a) => a.name.startsWith('on'))) out.push(`${tag}[on*]`);
        if (/^\s*javascript:/i.test(el.getAttribute('href') || '')) out.push(`${tag}[href=javascript:]`);
      }
    }
    return out;
  });
  assert.deepEqual(bad, []);
}

test('the page works without JavaScript: plain form, server-rendered results, paging', realOnly, async () => {
  const page = await open('/', { js: false });
  assert.equal(await page.locator('html').getAttribute('lang'), 'it');
  await page.getByRole('searchbox', { name: 'Cerca tra i processi partecipativi in Italia' }).fill(data.word);
  await page.getByRole('button', { name: 'Cerca' }).click();
  await page.waitForURL(/\?q=/);
  assert.match(page.url(), new RegExp(`q=${data.word}`));
  const count = await page.locator('.res .cnt').textContent();
  assert.match(count, new RegExp(`risultat.*«${data.word}»`));
  assert.ok(await page.locator('li.card').count() >= 1);
  assert.ok(await page.locator('li.card mark').count() >= 1, 'matched words are marked');
  await page.screenshot({ path: screenshotPath('page-nojs-results-it.png'), fullPage: true });
  // filters through the plain form
  await page.getByLabel('Stato', { exact: true }).selectOption('open');
  await page.getByRole('button', { name: 'Cerca' }).click();
  await page.waitForURL(/status=open/);
  const badges = await page.locator('li.card .badge').allTextContents();
  assert.ok(badges.every((b) => b === 'Aperto'), badges.join());
  // paging links when there is more than one page
  await page.goto(`${target.base}/?status=closed&limit=2`);
  if (data.all.facets.status.closed > 2) {
    await page.getByRole('link', { name: /Successivi/ }).click();
    await page.waitForURL(/offset=2/);
    assert.match(await page.locator('.res .cnt').textContent(), /mostrati 3–/);
  }
  await page.done();
});

test('harvested XSS payloads are inert on the server-rendered page', realOnly, async () => {
  const before = dialogs.length;
  for (const path of ['/?status=open&limit=100', '/?status=upcoming&limit=100', '/?status=closed&limit=100', '/en/?status=open&limit=100', '/?q=script', '/?q=alert', '/?q=img']) {
    const page = await open(path, { js: false });
    await assertInert(page);
    await page.done();
  }
  const page = await open('/?status=open&limit=100');
  await widgetCount(page);
  await page.waitForTimeout(300);
  await assertInert(page);
  await page.done();
  assert.equal(dialogs.length, before, dialogs.join());
});

/** An open record the demo places in a comune: the province and comune the map tests click. */
async function openPlace() {
  const r = await (await fetch(`${target.base}/api/v1/search?status=open&limit=100`)).json();
  const it = r.items.find((i) => i.comune && i.province);
  assert.ok(it, 'the demo has an open record in a comune');
  return it;
}

test('enhanced by the widget in page mode; URL kept in sync; a province on the map filters, then its comuni; a place typed by name', realOnly, async () => {
  const page = await open('/');
  await widgetCount(page);
  assert.deepEqual(page.errors, []);
  // the server-rendered form is replaced (not shown) by the widget's
  assert.equal(await page.locator('form.sf').isVisible(), false);
  const w = page.locator('snodo-search');
  await w.getByRole('searchbox').fill(data.word);
  await page.waitForFunction((q) => new URL(location.href).searchParams.get('q') === q, data.word);
  await page.waitForFunction((q) => document.querySelector('snodo-search').shadowRoot.querySelector('.cnt').textContent.includes(q), data.word);
  // the map: one link per province (ISTAT boundaries), each with an accessible name
  const provinces = page.locator('svg.geo a');
  assert.equal(await provinces.count(), 107);
  assert.match(await provinces.nth(0).getAttribute('aria-label'), /: \d+ process/);
  const it = await openPlace();
  const shape = page.locator(`svg.geo a[href="/?province=${it.province}&status=open"]`);
  assert.match(await shape.getAttribute('aria-label'), /: [1-9]\d* process/);
  // the busiest province is the darkest
  assert.match(await shape.locator('path').getAttribute('class'), /^s[1-5]$/);
  await shape.click();
  await page.waitForURL((u) => u.searchParams.get('province') === it.province && u.searchParams.get('status') === 'open');
  await widgetCount(page);
  // the widget searches that province; every result lies in it
  const shown = await page.evaluate(() => document.querySelector('snodo-search').shadowRoot.querySelector('.cnt').textContent);
  const api = await (await fetch(`${target.base}/api/v1/search?province=${it.province}&status=open&limit=100`)).json();
  assert.ok(api.total >= 1 && shown.includes(String(api.total)), `${shown} / ${api.total}`);
  assert.ok(api.items.every((i) => i.province === it.province), JSON.stringify(api.items.map((i) => i.province)));
  // the place field names the province chosen on the map, not its code
  const placeField = w.getByRole('textbox', { name: 'Comune o provincia' });
  const prov = api.place;
  assert.equal(prov.level, 'province');
  await page.waitForFunction((v) => document.querySelector('snodo-search').shadowRoot.querySelector('input[name=place]').value === v, `${prov.name} (${prov.sigla})`);
  // now the map shows the comuni of its region; the one with the record is a link
  assert.match(await page.locator('#map-h').textContent(), /comuni/);
  const comune = page.locator(`svg.geo a[href="/?comune=${it.comune}&status=open"]`);
  await page.screenshot({ path: screenshotPath('page-map-region.png'), clip: await page.locator('section.map').boundingBox() });
  await comune.click();
  await page.waitForURL((u) => u.searchParams.get('comune') === it.comune);
  await widgetCount(page);
  assert.equal(await page.locator(`svg.geo a[href="/?comune=${it.comune}&status=open"] path.sel`).count(), 1);
  // and back to Italy
  await page.getByRole('link', { name: 'Tutta Italia, per provincia' }).click();
  await page.waitForURL((u) => !u.searchParams.has('comune'));
  assert.equal(await page.locator('svg.geo a').count(), 107);
  // "near me" typed by name: the comune's own records, and the address says so
  const com = (await (await fetch(`${target.base}/api/v1/search?limit=1&comune=${it.comune}`)).json()).place;
  await widgetCount(page);
  await placeField.fill(com.name);
  await placeField.press('Enter');
  await page.waitForURL((u) => u.searchParams.get('place') === com.name && !u.searchParams.has('province'));
  const near = await (await fetch(`${target.base}/api/v1/search${new URL(page.url()).search}&limit=1`)).json();
  assert.equal(near.place.code, it.comune);
  await page.waitForFunction((n) => document.querySelector('snodo-search').shadowRoot.querySelector('.cnt').textContent.startsWith(n), near.total === 1 ? '1 risultato' : `${near.total} risultati`);
  await page.done();
});

test('keyboard: skip link, the widget, the map', { skip: !canRun }, async () => {
  const page = await open('/');
  await widgetCount(page);
  await page.keyboard.press('Tab');
  const skip = await page.evaluate(() => document.activeElement.textContent);
  assert.equal(skip, 'Vai al contenuto');
  await page.keyboard.press('Enter');
  // Tab until a province of the map has focus
  let found = false;
  for (let i = 0; i < 80 && !found; i++) {
    await page.keyboard.press('Tab');
    found = await page.evaluate(() => document.activeElement?.closest?.('svg.geo') != null);
  }
  assert.ok(found, 'the map is reachable with Tab');
  // the focused province is visibly marked
  const stroke = await page.evaluate(() => getComputedStyle(document.activeElement.querySelector('path')).stroke);
  assert.equal(stroke, 'rgb(255, 153, 0)');
  await page.screenshot({ path: screenshotPath('page-map-focus.png'), clip: await page.locator('section.map').boundingBox() });
  const href = await page.evaluate(() => document.activeElement.getAttribute('href'));
  assert.match(href, /^\/\?province=\d{3}&status=open$/);
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.href.endsWith(href));
  await page.done();
});

test('the accessibility statement: linked from every page\'s footer, in both languages, axe-clean, in the shipped typeface', { skip: !canRun }, async () => {
  for (const [home, name, heading] of [['/', 'Dichiarazione di accessibilità', 'Dichiarazione di accessibilità'], ['/en/', 'Accessibility statement', 'Accessibility statement']]) {
    const page = await open(home, { widget: false });
    await page.locator('footer').getByRole('link', { name }).click();
    await page.waitForURL(/\/(accessibilita|en\/accessibility)$/);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), heading);
    assert.equal(await page.locator('script').count(), 0);
    // the typeface the CSS names is the one the browser draws with, served by Snodo itself
    const loaded = await page.evaluate(async () => {
      await document.fonts.ready;
      return [...document.fonts].filter((f) => f.family.replace(/"/g, '') === 'Titillium Web' && f.status === 'loaded').map((f) => f.weight);
    });
    assert.ok(loaded.includes('400') && loaded.includes('700'), `loaded weights: ${loaded}`);
    const v = await axe(page);
    assert.equal(v.length, 0, `${page.url()}:\n${fmtViolations(v)}`);
    await page.done();
  }
});

test('axe-core: zero violations on /, /en/, /embed, /en/embed, results pages and the map of a region', { skip: !canRun }, async () => {
  const paths = ['/', '/en/', '/embed', '/en/embed'];
  if (TARGET === 'real') {
    const it = await openPlace();
    paths.push(`/?q=${data.word}`, '/en/?status=open', `/?province=${it.province}&status=open`, `/en/?comune=${it.comune}`);
  }
  for (const path of paths) {
    for (const widget of [true, false]) {
      const page = await open(path, { widget });
      if (widget && !path.includes('embed')) await widgetCount(page);
      if (widget && path.includes('embed')) await page.waitForFunction(() => document.querySelector('#snodo-embed-preview')?.shadowRoot?.querySelector('.cnt')?.textContent);
      if (!widget && !path.includes('embed')) await page.locator('details.tbl summary').click();
      const v = await axe(page);
      assert.equal(v.length, 0, `${path} (widget: ${widget}):\n${fmtViolations(v)}`);
      await page.done();
    }
  }
});

test('embed page: filters build the snippet; the preview follows', { skip: !canRun }, async () => {
  const page = await open('/embed');
  await page.waitForFunction(() => document.querySelector('#snodo-embed-preview')?.shadowRoot?.querySelector('.cnt')?.textContent);
  const code = page.locator('#snodo-embed-code');
  const form = page.locator('#snodo-embed-form');
  assert.match(await code.textContent(), new RegExp(`^<script type="module" src="${target.base}/widget/[0-9a-f]{32}\\.js" integrity="sha384-[A-Za-z0-9+/]{64}"></script>\\n<snodo-search></snodo-search>$`));
  await form.getByLabel('Regione').selectOption(data.region);
  await form.getByLabel('Stato').selectOption('open');
  await form.getByLabel('Lingua').selectOption('en');
  await form.getByLabel('Testo di esempio nel campo').fill('Cerca "qui" <b>');
  await form.getByLabel('Versione compatta (senza filtri)').check();
  const text = await code.textContent();
  assert.equal(text.split('\n')[1], `<snodo-search lang="en" region="${data.region}" status="open" placeholder="Cerca &quot;qui&quot; &lt;b>" compact></snodo-search>`);
  const prev = page.locator('#snodo-embed-preview');
  assert.equal(await prev.getAttribute('region'), data.region);
  assert.equal(await prev.getAttribute('lang'), 'en');
  await page.waitForFunction(() => /result/.test(document.querySelector('#snodo-embed-preview').shadowRoot.querySelector('.cnt').textContent));
  assert.equal(await prev.getByRole('searchbox').getAttribute('placeholder'), 'Cerca "qui" <b>');
  assert.equal(await page.locator('#snodo-embed-copy').isVisible(), true);
  // a place as typed becomes the attribute of its level; the hint says what was understood
  // (the API resolves it: the real server only)
  if (TARGET === 'real') {
    const place = form.getByLabel('Comune o provincia');
    await place.fill('Meran');
    await page.waitForFunction(() => document.querySelector('#snodo-embed-code').textContent.includes('comune="021051"'));
    assert.match(await page.locator('#e-place-h').textContent(), /Merano\/Meran \(BZ\): comune="021051"/);
    assert.equal(await prev.getAttribute('comune'), '021051');
    await place.fill('Castro');
    await page.waitForFunction(() => /Castro \(LE, Puglia/.test(document.querySelector('#e-place-h').textContent));
    assert.match(await code.textContent(), / place="Castro"/);
    await place.fill('');
    await page.waitForFunction(() => !/place=|comune=/.test(document.querySelector('#snodo-embed-code').textContent));
  }
  await page.screenshot({ path: screenshotPath('page-embed-it.png'), fullPage: true });
  await page.done();
});

test('screenshots of the pages', { skip: !canRun }, async () => {
  let page = await open('/');
  await widgetCount(page);
  await page.screenshot({ path: screenshotPath('page-home-it.png') });
  await page.locator('div.side').screenshot({ path: screenshotPath('page-map-it.png') });
  await page.done();
  page = await open('/en/?status=open');
  await widgetCount(page);
  await page.screenshot({ path: screenshotPath('page-home-en-open.png') });
  await page.done();
  page = await open('/', { viewport: { width: 390, height: 844 } });
  await widgetCount(page);
  await page.screenshot({ path: screenshotPath('page-home-mobile.png') });
  await page.locator('section.map').screenshot({ path: screenshotPath('page-map-mobile.png') });
  await page.done();
  page = await open('/', { js: false });
  await page.screenshot({ path: screenshotPath('page-home-nojs-it.png'), fullPage: true });
  await page.done();
  assert.deepEqual(dialogs, []);
});
