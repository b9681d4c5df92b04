// The promise "embeddable anywhere with one line": the two documented lines on a host page of
// another origin, against the real `snodo demo` with the shipped defaults (no CORS restriction),
// then with an operator's restriction that lets one site in and keeps another out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHost, startTarget, launchBrowser, TARGET } from './harness.mjs';

let br; const hosts = [];
const real = TARGET === 'real';

before(async () => {
  br = await launchBrowser();
  for (let i = 0; i < 2; i += 1) hosts.push(await startHost());
});

after(async () => {
  await br?.close();
  for (const h of hosts) await h.stop();
});

/** Opens the host page with exactly the two lines of the README. */
async function embed(host, base, name) {
  const url = host.page(name, { script: `${base}/widget.js`, widgetHtml: '<snodo-search></snodo-search>' });
  const page = await br.browser.newPage();
  await page.goto(url);
  return page;
}

/** What a visitor sees: the live count once results arrive, or the error the widget shows. */
const shown = (page) => page.waitForFunction(() => {
  const r = document.querySelector('snodo-search')?.shadowRoot;
  const count = r?.querySelector('.cnt')?.textContent || '';
  const error = r?.querySelector('.err')?.textContent || '';
  return /\d+ risultat/.test(count) || error ? { count, error } : null;
}, null, { timeout: 15_000 }).then((h) => h.jsonValue());

test('the shipped defaults: a site nobody allow-listed shows results', { skip: !real && 'needs the real server' }, async () => {
  const target = await startTarget();
  try {
    for (const [i, host] of hosts.entries()) {
      const page = await embed(host, target.base, `default-${i}.html`);
      const { count, error } = await shown(page);
      assert.equal(error, '', `${host.origin}: ${error}`);
      assert.match(count, /^\d+ risultat/);
      assert.ok(await page.locator('snodo-search').locator('li.card').count() > 0);
      await page.close();
    }
  } finally {
    await target.stop();
  }
});

test('the snippet copied from /embed works verbatim on another site, pinned by its integrity hash; a script that differs is refused', { skip: !real && 'needs the real server' }, async () => {
  const target = await startTarget();
  try {
    const [host] = hosts;
    let page = await br.browser.newPage();
    await page.goto(`${target.base}/embed`);
    await page.waitForFunction(() => document.querySelector('#snodo-embed-copy')?.hidden === false);
    const snippet = await page.locator('#snodo-embed-code').textContent();
    await page.close();
    const [, src, integrity] = snippet.match(/^<script type="module" src="([^"]+)" integrity="(sha384-[^"]+)"><\/script>\n<snodo-search><\/snodo-search>$/);
    // the pinned address serves the same bytes as /widget.js, for a year
    const pinned = await fetch(src);
    assert.equal(pinned.status, 200);
    assert.match(pinned.headers.get('cache-control'), /immutable/);
    assert.equal(await pinned.text(), await (await fetch(`${target.base}/widget.js`)).text());
    page = await br.browser.newPage();
    await page.goto(host.page('pinned.html', { snippet }));
    const { count, error } = await shown(page);
    assert.equal(error, '');
    assert.match(count, /^\d+ risultat/);
    await page.close();
    // the same snippet with another hash: the browser does not run the script
    const wrong = integrity.slice(0, -6) + (integrity.endsWith('AAAAA=') ? 'BBBBB=' : 'AAAAA=');
    page = await br.browser.newPage();
    const console = [];
    page.on('console', (m) => console.push(m.text()));
    await page.goto(host.page('tampered.html', { snippet: snippet.replace(integrity, wrong) }), { waitUntil: 'networkidle' });
    assert.equal(await page.evaluate(() => customElements.get('snodo-search') === undefined), true);
    assert.ok(console.some((m) => /integrity/i.test(m)), console.join('\n'));
    await page.close();
  } finally {
    await target.stop();
  }
});

test('with a restriction: the listed site works, another is refused by the browser', { skip: !real && 'needs the real server' }, async () => {
  const [listed, other] = hosts;
  const target = await startTarget(listed.origin);
  try {
    let page = await embed(listed, target.base, 'listed.html');
    const { count, error } = await shown(page);
    assert.equal(error, '');
    assert.match(count, /^\d+ risultat/);
    await page.close();

    page = await embed(other, target.base, 'other.html');
    const failures = [];
    page.on('requestfailed', (r) => failures.push(r.url()));
    await page.reload({ waitUntil: 'networkidle' });
    // The module script itself is not readable cross-origin: the element never comes to life…
    assert.equal(await page.evaluate(() => customElements.get('snodo-search') === undefined), true);
    // …and the API refuses to be read from this page.
    const read = await page.evaluate(async (base) => {
      try { await fetch(`${base}/api/v1/search?q=x`); return 'read'; } catch (e) { return e.name; }
    }, target.base);
    assert.equal(read, 'TypeError');
    await page.close();
  } finally {
    await target.stop();
  }
});

test('a comune site presets its place and a way of taking part; the count says what is shown', { skip: !real && 'needs the real server' }, async () => {
  const target = await startTarget();
  try {
    const [host] = hosts;
    const all = await (await fetch(`${target.base}/api/v1/search?limit=1&place=Bologna&scope=all`)).json();
    const url = host.page('bologna.html', { script: `${target.base}/widget.js`, widgetHtml: '<snodo-search place="Bologna" scope="all"></snodo-search>' });
    const page = await br.browser.newPage();
    await page.goto(url);
    const { count, error } = await shown(page);
    assert.equal(error, '');
    assert.match(count, new RegExp(`^${all.total} risultat`));
    // The method select filters, with its counts.
    const sel = page.locator('snodo-search').locator('select[name="method"]');
    assert.equal(await sel.count(), 1);
    await sel.selectOption('proposals');
    const withProposals = await (await fetch(`${target.base}/api/v1/search?limit=1&place=Bologna&scope=all&method=proposals`)).json();
    await page.waitForFunction((n) => new RegExp(`^${n} risultat`).test(document.querySelector('snodo-search')?.shadowRoot?.querySelector('.cnt')?.textContent || ''), withProposals.total, { timeout: 15_000 });
    await page.close();
  } finally {
    await target.stop();
  }
});

test('near me is never empty where something wider is open: the count above and one click to see it', { skip: !real && 'needs the real server' }, async () => {
  const target = await startTarget();
  try {
    const [host] = hosts;
    const local = await (await fetch(`${target.base}/api/v1/search?limit=1&place=Bologna`)).json();
    assert.ok(local.above && local.above.total > 0, JSON.stringify(local.above));
    const all = await (await fetch(`${target.base}/api/v1/search?limit=1&place=Bologna&scope=all`)).json();
    const url = host.page('near.html', { script: `${target.base}/widget.js`, widgetHtml: '<snodo-search place="Bologna"></snodo-search>' });
    const page = await br.browser.newPage();
    await page.goto(url);
    const { count } = await shown(page);
    assert.match(count, new RegExp(`^${local.total} risultat`));
    const above = page.locator('snodo-search').locator('p.above');
    await above.getByText(`${local.above.total} risultati riguardano anche questo territorio`).waitFor();
    await above.getByRole('button', { name: 'Mostra anche questi' }).click();
    await page.waitForFunction((n) => new RegExp(`^${n} risultat`).test(document.querySelector('snodo-search')?.shadowRoot?.querySelector('.cnt')?.textContent || ''), all.total, { timeout: 15_000 });
    assert.equal(await above.isHidden(), true);
    await page.close();
  } finally {
    await target.stop();
  }
});
