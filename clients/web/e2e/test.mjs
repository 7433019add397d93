// Browser end-to-end test of Bedside, run by e2e/run.sh inside a network
// namespace that contains only loopback. It starts its own server with an
// empty data directory and stops it before scanning the database file.

import { join } from 'node:path';
import { Runner, Server, env, launchBrowser, newPage, screenshotPath, assert } from './lib.mjs';
import { seed } from './seed.mjs';

const out = env('E2E_OUT');
const server = new Server({
  bin: env('BEDSIDE_BIN'),
  dataDir: env('BEDSIDE_DATA'),
  addr: process.env.E2E_SERVER_ADDR || '127.0.0.1:8080',
  logPath: join(out, 'server.log'),
});
// The app's origin; it differs from the server's only when a development
// proxy serves the app in front of the server.
const app = process.env.E2E_APP_URL || server.base;

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

async function signIn(page, person) {
  await page.goto(`${app}/signin`);
  await page.getByLabel('Email address').fill(person.email);
  await page.getByLabel('Password', { exact: true }).fill(person.password);
  await page.getByRole('button', { name: 'Continue' }).click();
  const code = page.getByLabel('Code from your authenticator app');
  await code.fill(await person.totp.code());
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

async function waitEnabled(locator, timeout = 15000) {
  const deadline = Date.now() + timeout;
  while (!(await locator.isEnabled())) {
    if (Date.now() > deadline) throw new Error('button stayed disabled');
    await new Promise((r) => setTimeout(r, 200));
  }
}

// waitForAttr polls an attribute until ok(value) holds, and fails with the
// last value seen.
async function waitForAttr(page, selector, attr, ok, timeout) {
  const deadline = Date.now() + timeout;
  let last = null;
  while (Date.now() < deadline) {
    last = await page.getAttribute(selector, attr).catch(() => null);
    if (last !== null && ok(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${page.label}: ${selector} ${attr} is ${JSON.stringify(last)} after ${timeout} ms`);
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
    const res = await visitor.goto(`${app}/signin`);
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
    await phone.goto(`${app}/privacy`);
    await phone.getByRole('heading', { name: 'How Bedside protects your data' }).waitFor();
    for (const h of ['Your messages and photos', 'Set up two-step sign-in', 'Compare your safety number', 'Use a private network']) {
      await phone.getByRole('heading', { name: h }).waitFor();
    }
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `the page is ${overflow}px wider than a 390px screen`);
    await shot(phone, 'privacy');
  });

  let people;
  await runner.step('seed accounts, care team and a consultation through the API', async () => {
    people = await seed(server);
  });

  let clinician, patient;
  await runner.step('clinician signs in with password and TOTP', async () => {
    clinician = await newPage(browser, 'clinician', { width: 1280, height: 900 });
    pages.push(clinician);
    await signIn(clinician, people.clinician);
    await clinician.getByRole('heading', { name: 'My day' }).waitFor();
    await clinician.locator(`[data-consultation="${people.consultationId}"]`).waitFor();
    await shot(clinician, 'day');
  });

  await runner.step('patient signs in with password and TOTP on a phone-sized screen', async () => {
    patient = await newPage(browser, 'patient', { width: 390, height: 844 });
    pages.push(patient);
    await signIn(patient, people.patient);
    await patient.getByRole('heading', { name: 'Consultations' }).waitFor();
    await patient.locator(`[data-consultation="${people.consultationId}"]`).waitFor();
    await shot(patient, 'consultations');
  });

  await runner.step('patient enters the waiting room', async () => {
    await patient.locator(`[data-consultation="${people.consultationId}"] a`).click();
    await patient.getByRole('heading', { name: /Consultation at/ }).waitFor();
    const enter = patient.getByRole('button', { name: 'Enter the waiting room' });
    await waitEnabled(enter);
    await enter.click();
    await patient.locator('[data-call-state="waiting"]').waitFor();
    await patient.getByText('You are in the waiting room').waitFor();
    await shot(patient, 'waiting-room');
  });

  await runner.step('clinician starts the consultation and admits the patient', async () => {
    await clinician.locator(`[data-consultation="${people.consultationId}"] a`).click();
    const start = clinician.getByRole('button', { name: 'Start the consultation' });
    await waitEnabled(start);
    await start.click();
    const admit = clinician.getByRole('button', { name: 'Admit patient' });
    await admit.waitFor();
    await shot(clinician, 'admit-panel');
    await admit.click();
    await patient.locator('[data-call-state="admitted"]').waitFor();
  });

  for (const [who, label] of [
    ['clinician', 'clinician decodes the patient’s video and audio'],
    ['patient', 'patient decodes the clinician’s video and audio'],
  ]) {
    await runner.step(label, async () => {
      const page = who === 'clinician' ? clinician : patient;
      await waitForAttr(page, '[data-testid="video-frames"]', 'data-frames', (v) => Number(v) > 10, 30000);
      await waitForAttr(page, '[data-testid="audio-packets"]', 'data-packets', (v) => Number(v) > 10, 30000);
      await waitForAttr(page, '[data-testid="audio-packets"]', 'data-energy', (v) => Number(v) > 0, 30000);
      const state = await page.getAttribute('[data-testid="call-encryption"]', 'data-state');
      assert(state === 'connected', `got DTLS state ${state}, want connected`);
      const route = await page.getAttribute('[data-testid="media-route"]', 'data-route');
      assert(route === 'direct', `got media route ${route}, want direct (host candidate on loopback)`);
      const playing = await page.evaluate(() =>
        [...document.querySelectorAll('video.remote')].some((v) => v.videoWidth > 0 && !v.paused),
      );
      assert(playing, 'no remote video element is playing');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert(overflow <= 0, `the call page is ${overflow}px wider than the screen`);
      await shot(page, 'call');
    });
  }

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
