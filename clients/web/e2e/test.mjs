// Browser end-to-end test of Bedside, run by e2e/run.sh inside a network
// namespace that contains only loopback. It starts its own server with an
// empty data directory and stops it before scanning the database file.

import { join } from 'node:path';
import { Runner, Server, env, launchBrowser, newPage, screenshotPath, assert } from './lib.mjs';

const out = env('E2E_OUT');
const server = new Server({
  bin: env('BEDSIDE_BIN'),
  dataDir: env('BEDSIDE_DATA'),
  addr: '127.0.0.1:8080',
  logPath: join(out, 'server.log'),
});

const pages = [];
const runner = new Runner(async (name) => {
  const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  for (const p of pages) {
    if (!p.isClosed()) await p.screenshot({ path: screenshotPath(`failed-${slug}-${p.label}`), fullPage: true });
  }
});

async function shot(page, name) {
  await page.screenshot({ path: screenshotPath(`${page.label}-${name}`), fullPage: true });
}

let browser;
try {
  await runner.step('server starts with an empty data directory', () => server.start());
  await runner.step('chromium starts', async () => {
    browser = await launchBrowser();
  });

  let visitor;
  await runner.step('sign-in page loads', async () => {
    visitor = await newPage(browser, 'visitor', { width: 1280, height: 800 });
    pages.push(visitor);
    const res = await visitor.goto(`${server.base}/signin`);
    assert(res.status() === 200, `got status ${res.status()} for /signin, want 200`);
    const csp = res.headers()['content-security-policy'] ?? '';
    assert(csp.includes("script-src 'self'"), `got CSP ${JSON.stringify(csp)}, want script-src 'self'`);
    await visitor.getByRole('heading', { name: 'Sign in to Bedside' }).waitFor();
    await visitor.getByLabel('Email address').waitFor();
    await visitor.getByLabel('Password').waitFor();
    await shot(visitor, 'signin');
  });

  await runner.step('privacy page loads on a phone-sized screen', async () => {
    const phone = await newPage(browser, 'phone', { width: 390, height: 844 });
    pages.push(phone);
    await phone.goto(`${server.base}/privacy`);
    await phone.getByRole('heading', { name: 'How Bedside protects your data' }).waitFor();
    for (const h of ['Your messages and photos', 'Set up two-step sign-in', 'Compare your safety number', 'Use a private network']) {
      await phone.getByRole('heading', { name: h }).waitFor();
    }
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `the page is ${overflow}px wider than a 390px screen`);
    await shot(phone, 'privacy');
  });

  await runner.check('no console errors or CSP violations', async () => {
    const problems = pages.flatMap((p) => p.problems.map((m) => `${p.label}: ${m}`));
    assert(problems.length === 0, problems.join('\n'));
  });
} finally {
  await browser?.close().catch(() => {});
  await server.stop();
}

console.log(runner.summary());
process.exit(runner.ok() ? 0 : 1);
