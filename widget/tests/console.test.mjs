// Browser tests of the operators' console (/admin, /en/admin, a source's page) served by the real
// `snodo demo` with an admin token: the browser's own login prompt (HTTP Basic), axe-core, the
// keyboard, and "harvest now" from the form.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHost, startTarget, launchBrowser, axe, fmtViolations, screenshotPath, TARGET, ADMIN_TOKEN } from './harness.mjs';

const skip = TARGET === 'real' ? {} : { skip: 'needs the real server' };
let host; let target; let br;

before(async () => {
  if (TARGET !== 'real') return;
  host = await startHost();
  target = await startTarget(host.origin);
  br = await launchBrowser();
});

after(async () => {
  await br?.close();
  await target?.stop();
  await host?.stop();
});

async function open(path, { password = ADMIN_TOKEN, js = true } = {}) {
  const ctx = await br.browser.newContext({
    javaScriptEnabled: js,
    viewport: { width: 1280, height: 900 },
    httpCredentials: password ? { username: 'operatore', password } : undefined,
  });
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  const resp = await page.goto(`${target.base}${path}`);
  page.done = () => ctx.close();
  return { page, resp };
}

test('without the token the console is not shown', skip, async () => {
  const { page, resp } = await open('/admin', { password: 'wrong' });
  assert.equal(resp.status(), 401);
  await page.done();
});

test('axe-core: zero violations on the console and a source page, in both languages, no script needed', skip, async () => {
  for (const path of ['/admin', '/en/admin', '/admin/sources/partecipa', '/en/admin/sources/partecipa']) {
    const { page, resp } = await open(path);
    assert.equal(resp.status(), 200, path);
    // the console ships no script: what axe sees is what a browser without JavaScript shows
    assert.equal(await page.locator('script').count(), 0, path);
    const v = await axe(page);
    assert.equal(v.length, 0, `${path}:\n${fmtViolations(v)}`);
    assert.deepEqual(page.errors, []);
    await page.done();
  }
});

test('every source in one table; keyboard: "harvest now" starts a run and the console says so', skip, async () => {
  const { page } = await open('/admin', { js: false });
  const rows = page.locator('main table tbody tr');
  assert.equal(await rows.count(), 3);
  assert.match(await page.locator('main table').textContent(), /ParteciPa \(demo\)/);
  await page.screenshot({ path: screenshotPath('console-it.png'), fullPage: true });
  // Tab to the first "harvest now" button, as a keyboard user would, and press Enter
  let found = false;
  for (let i = 0; i < 60 && !found; i++) {
    await page.keyboard.press('Tab');
    found = await page.evaluate(() => document.activeElement?.tagName === 'BUTTON' && /Raccogli ora/.test(document.activeElement.textContent));
  }
  assert.ok(found, 'the buttons are reachable with Tab');
  const name = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
  assert.match(name, /^Raccogli ora .+/);
  await Promise.all([page.waitForURL(/\/admin\?harvest=started&source=/), page.keyboard.press('Enter')]);
  const notice = await page.locator('.notice').textContent();
  assert.match(notice, /^Raccolta di `[a-z-]+` avviata\.$/);
  // the source's page lists its runs, newest first
  await page.getByRole('link', { name: 'ParteciPa (demo)', exact: true }).click();
  await page.waitForURL(/\/admin\/sources\/partecipa$/);
  assert.ok(await page.locator('main table tbody tr').count() >= 1);
  await page.screenshot({ path: screenshotPath('console-source-it.png'), fullPage: true });
  await page.done();
});
