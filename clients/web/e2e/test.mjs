// Browser end-to-end test of Bedside, run by e2e/run.sh inside a network
// namespace that contains only loopback. It starts its own server with an
// empty data directory and stops it before scanning the database file.

import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  Runner, Server, env, launchBrowser, newPage, watchPage, screenshotPath, assert, makePng, findSecrets, filesUnder,
  accessibilityProblems,
} from './lib.mjs';
import { seed, ApiClient, Totp } from './seed.mjs';
import { appOrigin } from './origin.mjs';

const out = env('E2E_OUT');
const server = new Server({
  bin: env('BEDSIDE_BIN'),
  dataDir: env('BEDSIDE_DATA'),
  addr: process.env.E2E_SERVER_ADDR || '127.0.0.1:8080',
  logPath: join(out, 'server.log'),
});
// The app's origin; it differs from the server's only when a development
// proxy serves the app in front of the server, which CI rejects.
let app;
try {
  app = appOrigin(process.env, server.base);
} catch (err) {
  console.log(`FAIL e2e setup\n     ${err.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const pages = [];
const runner = new Runner(async (name) => {
  const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  for (const p of pages) {
    if (!p.isClosed()) await p.screenshot({ path: screenshotPath(`failed-${slug}-${p.label}`), fullPage: true });
  }
});

// Every screen the test photographs is also checked for accessibility.
const a11y = [];

async function shot(page, name) {
  await page.screenshot({ path: screenshotPath(`${page.label}-${name}`), fullPage: true });
  for (const p of await accessibilityProblems(page)) a11y.push(`${page.label}-${name}: ${p}`);
}

// signIn uses the keyboard only: type, Tab to the next field, Enter to
// submit.
async function signIn(page, person) {
  await page.goto(`${app}/signin`);
  await page.getByLabel('Email address').focus();
  await page.keyboard.type(person.email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(person.password);
  await page.keyboard.press('Enter');
  const code = page.getByLabel('Code from your authenticator app');
  await code.waitFor();
  const focused = await code.evaluate((el) => el === document.activeElement);
  assert(focused, 'the code field did not receive focus after the password step');
  await page.keyboard.type(await person.totp.code());
  await page.keyboard.press('Enter');
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

// Each side sends a text and a photo; the other side must decrypt both,
// and the data directory must contain neither afterwards.
const tag = randomBytes(6).toString('hex');
const sent = {
  clinician: { text: `Please describe the rash, ref ${tag}-c`, image: makePng(48) },
  patient: { text: `It started on Monday, ref ${tag}-p`, image: makePng(48) },
};

// The embedded TURN server listens on loopback too.
const serverArgs = ['--turn-udp', '127.0.0.1:3478', '--turn-host', '127.0.0.1'];

// noStaleCallText fails when a call page shows a message that is false in
// the situation the test created.
async function noStaleCallText(page) {
  const text = await page.locator('main').innerText();
  for (const wrong of ['already in this consultation', 'closer to your router', 'Setting up encryption (']) {
    assert(!text.includes(wrong), `${page.label} shows ${JSON.stringify(wrong)}:\n${text.slice(0, 600)}`);
  }
}

// callProblems returns the visible error banners of a call page.
async function callProblems(page) {
  return page.locator('main .status-error:visible').allInnerTexts();
}

let browser;
try {
  // The embedded TURN server listens on loopback too. The patient's browser
  // is limited to relayed candidates, as behind a firewall that blocks the
  // media port, so the test covers both routes.
  await runner.step('server starts with an empty data directory', () => server.start(serverArgs));
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
    clinician = await newPage(browser, 'clinician', { width: 1280, height: 900 }, { dropSockets: true });
    pages.push(clinician);
    await signIn(clinician, people.clinician);
    await clinician.getByRole('heading', { name: 'My day' }).waitFor();
    await clinician.locator(`[data-consultation="${people.consultationId}"]`).waitFor();
    await shot(clinician, 'day');
  });

  await runner.step('patient signs in with password and TOTP on a phone-sized screen', async () => {
    patient = await newPage(browser, 'patient', { width: 390, height: 844 }, { relayOnly: true });
    pages.push(patient);
    await signIn(patient, people.patient);
    await patient.getByRole('heading', { name: 'Consultations' }).waitFor();
    await patient.locator(`[data-consultation="${people.consultationId}"]`).waitFor();
    await shot(patient, 'consultations');
  });

  await runner.step('patient enters the waiting room', async () => {
    await patient.locator(`[data-consultation="${people.consultationId}"] a`).click();
    await patient.getByRole('heading', { name: /Consultation at/ }).waitFor();
    // The preview is on, so the stage no longer promises it.
    await patient.getByText('Your camera is on').waitFor();
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
    await clinician.getByText(`${people.patient.name} (patient) joined the call.`).waitFor();
  });

  await runner.step('clinician sees the patient’s display name in call and chat', async () => {
    const patientLabel = `${people.patient.name} (patient)`;
    await clinician.getByRole('list', { name: 'In the call' }).locator('li', { hasText: patientLabel }).waitFor();
    await clinician.getByRole('button', { name: `Safety number with ${patientLabel}` }).waitFor();
    const idNote = await clinician.getByText('Some names could not be loaded').count();
    assert(idNote === 0, `got ${idNote} notes about names that could not be loaded, want 0`);
  });

  for (const [who, label, wantRoute] of [
    ['clinician', 'clinician decodes the patient’s video and audio', 'direct'],
    ['patient', 'patient decodes the clinician’s video and audio through the relay', 'relay'],
  ]) {
    await runner.step(label, async () => {
      const page = who === 'clinician' ? clinician : patient;
      await waitForAttr(page, '[data-testid="video-frames"]', 'data-frames', (v) => Number(v) > 10, 30000);
      await waitForAttr(page, '[data-testid="audio-packets"]', 'data-packets', (v) => Number(v) > 10, 30000);
      await waitForAttr(page, '[data-testid="audio-packets"]', 'data-energy', (v) => Number(v) > 0, 30000);
      const state = await page.getAttribute('[data-testid="call-encryption"]', 'data-state');
      assert(state === 'connected', `got DTLS state ${state}, want connected`);
      const route = await page.getAttribute('[data-testid="media-route"]', 'data-route');
      assert(route === wantRoute, `got media route ${route}, want ${wantRoute}`);
      const playing = await page.evaluate(() =>
        [...document.querySelectorAll('video.remote')].some((v) => v.videoWidth > 0 && !v.paused),
      );
      assert(playing, 'no remote video element is playing');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert(overflow <= 0, `the call page is ${overflow}px wider than the screen`);
      await shot(page, 'call');
    });
  }

  await runner.step('muting the patient silences him on the clinician’s side', async () => {
    const energy = async () => Number(await clinician.getAttribute('[data-testid="audio-packets"]', 'data-energy'));
    const growth = async () => {
      const start = await energy();
      await new Promise((r) => setTimeout(r, 2000));
      return (await energy()) - start;
    };
    const before = await growth();
    assert(before > 0, `got audio energy growth ${before} before muting, want more than 0`);
    await patient.getByRole('button', { name: 'Mute microphone' }).click();
    const unmute = patient.getByRole('button', { name: 'Unmute microphone' });
    const pressed = await unmute.getAttribute('aria-pressed');
    assert(pressed === 'true', `got aria-pressed ${pressed} on the mute button, want true`);
    // The stats poll and the jitter buffer lag behind the click, more so on
    // a loaded machine: silence must arrive within a few windows.
    let after = Infinity;
    for (let i = 0; i < 4 && after >= before / 10; i++) {
      after = await growth();
    }
    assert(after < before / 10, `got audio energy growth ${after} after muting, want under a tenth of ${before}`);
    await unmute.click();
  });

  // A restart drops every room: both browsers reconnect on their own, the
  // clinician is back in the call and the patient back in the waiting
  // room, and neither shows a message from before the restart.
  await runner.step('after a server restart the patient waits and is admitted again', async () => {
    await server.stop();
    await server.start(serverArgs);
    await patient.locator('[data-call-state="waiting"]').waitFor({ timeout: 30000 });
    await patient.getByText('You are in the waiting room again').waitFor();
    const admit = clinician.getByRole('button', { name: 'Admit patient' });
    await admit.waitFor({ timeout: 30000 });
    for (const page of [clinician, patient]) await noStaleCallText(page);
    const frames = await patient.getAttribute('[data-testid="video-frames"]', 'data-frames');
    assert(frames === '0', `got ${frames} video frames in the waiting room, want the count reset to 0`);
    await shot(patient, 'waiting-again');
    await admit.click();
    await patient.locator('[data-call-state="admitted"]').waitFor();
    for (const page of [clinician, patient]) {
      await waitForAttr(page, '[data-testid="video-frames"]', 'data-frames', (v) => Number(v) > 10, 30000);
      await waitForAttr(page, '[data-testid="call-encryption"]', 'data-state', (v) => v === 'connected', 15000);
      await noStaleCallText(page);
      const banners = await callProblems(page);
      assert(banners.length === 0, `${page.label} still shows ${JSON.stringify(banners)} after re-admission`);
    }
    await shot(clinician, 'call-after-restart');
  });

  // A dropped WebSocket leaves media alone: the hub keeps the SFU peer
  // through its grace period, and the browser resumes with an ICE restart
  // on the same peer connection, so the frame count goes on from where it
  // was instead of starting again at 0.
  await runner.step('a dropped connection resumes the same media session', async () => {
    const kept = async () => {
      const text = await (await fetch(`${server.base}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith('bedside_signaling_resumes_total{media="kept"}'));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const keptBefore = await kept();
    const framesBefore = Number(await clinician.getAttribute('[data-testid="video-frames"]', 'data-frames'));
    const dropped = await clinician.evaluate(() => window.dropSockets());
    assert(dropped === 1, `closed ${dropped} WebSockets, want the page's one`);
    await clinician.getByText('Reconnected.', { exact: true }).waitFor({ timeout: 30000 });
    const keptAfter = await kept();
    assert(keptAfter === keptBefore + 1, `got ${keptAfter} resumes with media kept, want ${keptBefore + 1}`);
    await waitForAttr(clinician, '[data-testid="video-frames"]', 'data-frames', (v) => Number(v) > framesBefore + 10, 15000);
    await noStaleCallText(clinician);
    const banners = await callProblems(clinician);
    assert(banners.length === 0, `clinician still shows ${JSON.stringify(banners)} after the resume`);
  });

  // A duplicated tab copies sessionStorage, resume token included. Joining
  // from it takes over the participant, and only then may the first tab
  // say that the consultation goes on in another tab.
  await runner.step('a duplicated tab takes over the call and the first tab says so', async () => {
    const storage = await patient.evaluate(() => JSON.stringify(Object.entries(sessionStorage)));
    const dup = watchPage(await patient.context().newPage(), 'patient-duplicate');
    pages.push(dup);
    await dup.addInitScript((entries) => {
      for (const [k, v] of JSON.parse(entries)) if (sessionStorage.getItem(k) === null) sessionStorage.setItem(k, v);
    }, storage);
    await dup.goto(`${app}/consultations/${people.consultationId}`);
    const enter = dup.getByRole('button', { name: 'Enter the waiting room' });
    await waitEnabled(enter);
    await enter.click();
    await dup.locator('[data-call-state="admitted"]').waitFor();
    await patient.getByText('You are already in this consultation in another tab or window').waitFor();
    await patient.locator('[data-call-state="left"]').waitFor();
    await waitForAttr(dup, '[data-testid="video-frames"]', 'data-frames', (v) => Number(v) > 10, 30000);
    await noStaleCallText(dup);
    await shot(patient, 'superseded');
    await patient.close();
    patient = dup;
  });

  for (const [from, to] of [
    ['clinician', 'patient'],
    ['patient', 'clinician'],
  ]) {
    await runner.step(`${from} sends an encrypted message that the ${to} decrypts`, async () => {
      const src = from === 'clinician' ? clinician : patient;
      const dst = to === 'clinician' ? clinician : patient;
      const box = src.getByLabel('Message', { exact: true });
      await box.fill(sent[from].text);
      await box.press('Enter');
      await dst.locator('.messages .message:not(.mine) .text', { hasText: sent[from].text }).waitFor({ timeout: 20000 });
      await src.locator('.messages .message.mine .text', { hasText: sent[from].text }).waitFor();
    });

    await runner.step(`${from} sends an encrypted photo that the ${to} decrypts`, async () => {
      const src = from === 'clinician' ? clinician : patient;
      const dst = to === 'clinician' ? clinician : patient;
      const { png, pixels } = sent[from].image;
      const name = `photo-${from}-${tag}.png`;
      await src.setInputFiles('input[type=file]', { name, mimeType: 'image/png', buffer: png });
      const img = dst.locator(`.messages .message:not(.mine) img[alt="Photo: ${name}"]`);
      await img.waitFor({ timeout: 20000 });
      const got = await img.evaluate(async (el, size) => {
        const im = /** @type {HTMLImageElement} */ (el);
        if (!im.complete) await new Promise((r) => im.addEventListener('load', r, { once: true }));
        const c = document.createElement('canvas');
        c.width = size;
        c.height = size;
        const ctx = c.getContext('2d');
        ctx.drawImage(im, 0, 0);
        const d = ctx.getImageData(0, 0, size, size).data;
        const rgb = [];
        for (let i = 0; i < d.length; i += 4) rgb.push(d[i], d[i + 1], d[i + 2]);
        return { w: im.naturalWidth, h: im.naturalHeight, rgb };
      }, 48);
      assert(got.w === 48, `got an image ${got.w}px wide, want 48`);
      assert(got.h === 48, `got an image ${got.h}px high, want 48`);
      const same = got.rgb.every((v, i) => v === pixels[i]);
      assert(same, 'the decrypted photo differs from the photo sent');
    });
  }

  await runner.step('both sides show the same safety number words', async () => {
    const words = [];
    for (const page of [clinician, patient]) {
      await page.getByRole('button', { name: /^Safety number with/ }).first().click();
      const list = page.locator('[data-testid="safety-words"]');
      await list.waitFor();
      words.push(await list.locator('li').allTextContents());
    }
    assert(words[0].length === 8, `got ${words[0].length} words, want 8`);
    assert(words[0].join(' ') === words[1].join(' '), `clinician sees ${words[0].join(' ')}, patient sees ${words[1].join(' ')}`);
    await shot(clinician, 'chat');
    await shot(patient, 'chat');
  });

  await runner.step('patient leaves and rejoins the consultation in progress', async () => {
    await patient.getByRole('button', { name: 'Leave' }).click();
    await clinician.getByText(`${people.patient.name} (patient) left the call.`).waitFor();
    await waitForAttr(clinician, '.stage', 'data-remote-streams', (v) => v === '0', 15000);
    await patient.getByRole('button', { name: 'Rejoin call' }).click();
    const admit = clinician.getByRole('button', { name: 'Admit patient' });
    await waitEnabled(admit);
    await admit.click();
    await waitForAttr(patient, '.stage', 'data-remote-streams', (v) => Number(v) >= 1, 20000);
  });

  await runner.step('clinician ends the consultation for everyone', async () => {
    await clinician.getByRole('button', { name: 'End consultation for everyone' }).click();
    await clinician.getByRole('dialog').getByText('nobody can rejoin it').waitFor();
    await clinician.getByRole('dialog').getByRole('button', { name: 'End consultation' }).click();
    await clinician.getByText('You ended the consultation.').waitFor();
    await patient.getByText('The consultation has ended.').waitFor();
    await waitForAttr(patient, 'section[data-call-state]', 'data-call-state', (v) => v === 'ended', 5000);
    const remote = await patient.evaluate(() => document.querySelectorAll('video.remote').length);
    assert(remote === 0, `got ${remote} remote videos on the patient's page after the end, want 0`);
    const status = await patient.evaluate(async (id) => {
      const { token } = JSON.parse(sessionStorage.getItem('bedside.session'));
      const res = await fetch(`/api/v1/consultations/${id}`, { headers: { Authorization: `Bearer ${token}` } });
      return (await res.json()).status;
    }, people.consultationId);
    assert(status === 'completed', `got consultation status ${status} over the API, want completed`);
    await patient.close();
  });

  // The patient loses his only device and starts over in a new browser:
  // his identity key changes, and the clinician must not send to the new
  // key before comparing the new safety number.
  await runner.step('a changed identity key blocks sending until accepted', async () => {
    // This browser also has its camera blocked, which the page must explain.
    const fresh = await newPage(browser, 'patient-new-browser', { width: 390, height: 844 }, { blockCamera: true });
    pages.push(fresh);
    fresh.on('dialog', (d) => void d.accept());
    await signIn(fresh, people.patient);
    await fresh.goto(`${app}/consultations/${people.consultationId}`);
    await fresh.getByText('Encrypted messages are set up on another device of yours').waitFor();

    // The patient removes his lost device on the account page.
    await fresh.getByRole('link', { name: 'Account' }).click();
    const other = fresh.locator('li[data-device]', { hasText: 'Another device' });
    await other.waitFor();
    await other.getByRole('button', { name: /^Remove device/ }).click();
    await fresh.getByText('The device was removed.').waitFor();
    // Patients need 8 characters, not the staff minimum of 12.
    await fresh.getByText('At least 8 characters.').waitFor();
    await shot(fresh, 'account');
    await fresh.goto(`${app}/consultations/${people.consultationId}`);
    await fresh.getByLabel('Message', { exact: true }).waitFor();
    await fresh.getByText('Camera and microphone are blocked. Allow them for this site').waitFor();
    await shot(fresh, 'camera-blocked');

    await clinician.goto(`${app}/consultations/${people.consultationId}`);
    const box = clinician.getByLabel('Message', { exact: true });
    const text = `After the key change, ref ${tag}-k`;
    sent.keyChange = { text };
    await box.fill(text);
    await box.press('Enter');
    await clinician.getByRole('heading', { name: `The encryption keys of ${people.patient.name} (patient) changed` }).waitFor();
    await clinician.getByText('Not sent. This person’s encryption keys changed').waitFor();
    // Messages from the removed device still verify under the old key.
    await clinician.locator('.messages .message:not(.mine) .text', { hasText: sent.patient.text }).waitFor();
    const failed = await clinician.locator('.messages .message.failed').count();
    assert(failed === 0, `got ${failed} messages that failed to open after the key change, want 0`);
    await shot(clinician, 'identity-changed');
    await clinician.getByRole('button', { name: /I compared the new number/ }).click();
    await clinician.getByText('Checked: you compared this safety number.').waitFor();
    await box.press('Enter');
    await fresh.locator('.messages .message:not(.mine) .text', { hasText: text }).waitFor({ timeout: 20000 });
  });

  await runner.step('patient and clinician message in the care thread', async () => {
    const fresh = pages.find((p) => p.label === 'patient-new-browser');
    const text = `A question between visits, ref ${tag}-t`;
    sent.careThread = { text };
    await fresh.getByRole('link', { name: 'Messages' }).click();
    await fresh.getByRole('link', { name: 'Your care team' }).click();
    await fresh.getByRole('heading', { name: 'Messages with your care team' }).waitFor();
    const safetyWith = `Safety number with ${people.clinician.name} (clinician)`;
    await fresh.getByRole('button', { name: safetyWith }).waitFor();
    const box = fresh.getByLabel('Message', { exact: true });
    await box.fill(text);
    await box.press('Enter');
    await fresh.locator('.messages .message.mine .text', { hasText: text }).waitFor();

    await clinician.getByRole('link', { name: 'Messages' }).click();
    const thread = clinician.getByRole('link', { name: `Care thread of ${people.patient.name}` });
    await thread.waitFor();
    await clinician.getByText('1 new').waitFor();
    await thread.click();
    await clinician.locator('.messages .message:not(.mine) .text', { hasText: text }).waitFor({ timeout: 20000 });
    await clinician.locator('.messages .message:not(.mine) .meta', { hasText: `${people.patient.name} (patient) · ` }).first().waitFor();
    await shot(clinician, 'care-thread');
    await shot(fresh, 'care-thread');
    await fresh.close();
  });

  await runner.step('clinician invites a patient and is told he joined the care team', async () => {
    await clinician.getByRole('link', { name: 'Invite a patient' }).click();
    await clinician.getByRole('heading', { name: 'Invitations' }).waitFor();
    await clinician.getByLabel('Email address').fill(`new.patient.${tag}@example.test`);
    await clinician.getByRole('button', { name: 'Create invitation' }).click();
    await clinician.locator('[data-testid="invitation-token"]').waitFor();
    await clinician.getByText('You are on this patient’s care team').waitFor();
    const text = await clinician.locator('main').innerText();
    assert(!text.includes('ask an administrator'), 'the invitation page still sends the clinician to an administrator');
    await shot(clinician, 'invitation');
    await clinician.close();
  });

  await runner.step('nurse accepts her invitation and enrolls TOTP from the QR page', async () => {
    const nurse = await newPage(browser, 'nurse', { width: 1024, height: 800 });
    pages.push(nurse);
    const p = people.nurse;
    await nurse.goto(`${app}/invite`);
    await nurse.getByText('At least 8 characters, or 12 for clinic staff.').waitFor();
    await nurse.getByLabel('Invitation code').fill(people.nurseToken);
    await nurse.getByLabel('Your name').fill(p.name);
    await nurse.getByLabel('New password', { exact: true }).fill(p.password);
    await nurse.getByLabel('New password again').fill(p.password);
    await nurse.getByRole('button', { name: 'Create my account' }).click();
    await nurse.getByText('Your account is ready').waitFor();
    const email = await nurse.getByLabel('Email address').inputValue();
    assert(email === p.email, `got prefilled email ${email}, want ${p.email}`);
    await nurse.getByLabel('Password', { exact: true }).fill(p.password);
    await nurse.getByRole('button', { name: 'Continue' }).click();
    await nurse.getByRole('heading', { name: 'Set up two-step sign-in' }).waitFor();
    const qr = nurse.locator('img.qr');
    await qr.waitFor();
    const qrWidth = await qr.evaluate((el) => /** @type {HTMLImageElement} */ (el).naturalWidth);
    assert(qrWidth >= 100, `got a QR code image ${qrWidth}px wide, want a rendered image`);
    await shot(nurse, 'enroll');
    const key = await nurse.locator('[data-testid="totp-secret"]').innerText();
    assert(/^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/.test(key), `got the key ${JSON.stringify(key)}, want groups of four`);
    p.totp = new Totp(key);
    await nurse.getByLabel('Six-digit code from the app').fill(await p.totp.code());
    await nurse.getByRole('button', { name: 'Confirm' }).click();
    await nurse.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
    const codes = await nurse.locator('ul.codes li').count();
    assert(codes === 10, `got ${codes} recovery codes, want 10`);
    await nurse.getByRole('link', { name: 'I have saved my recovery codes' }).click();
    await nurse.getByRole('heading', { name: 'My day' }).waitFor();
  });

  await runner.step('a revoked session returns the nurse to sign-in with a notice', async () => {
    const nurse = pages.find((p) => p.label === 'nurse');
    const p = people.nurse;
    const anon = new ApiClient(server.base);
    const login = await anon.call('POST', '/api/v1/auth/login', { email: p.email, password: p.password });
    const second = await anon.call('POST', '/api/v1/auth/login/second-factor', {
      challenge: login.challenge,
      code: await p.totp.code(),
    });
    const other = new ApiClient(server.base, second.session.token);
    const { sessions } = await other.call('GET', '/api/v1/auth/sessions');
    const browserSession = sessions.find((s) => !s.current);
    assert(browserSession, `got ${sessions.length} sessions, want the browser's besides this one`);
    await other.call('DELETE', `/api/v1/auth/sessions/${browserSession.id}`);
    await nurse.getByRole('link', { name: 'Account' }).click();
    await nurse.getByRole('heading', { name: 'Sign in to Bedside' }).waitFor();
    await nurse.getByText('Your session has expired. Sign in again to continue.').waitFor();
    nurse.problems = nurse.problems.filter((m) => !m.includes('401'));
    await shot(nurse, 'session-expired');
  });

  let admin;
  await runner.step('admin signs in and sees the users', async () => {
    admin = await newPage(browser, 'admin', { width: 1280, height: 900 });
    pages.push(admin);
    await signIn(admin, people.admin);
    await admin.getByRole('heading', { name: 'Users' }).waitFor();
    for (const who of ['admin', 'clinician', 'patient', 'nurse']) {
      await admin.locator('tbody').getByText(people[who].email, { exact: true }).waitFor();
    }
    await shot(admin, 'users');
  });

  // A role change ends the person's sessions, so it takes the Apply role
  // button and a confirmation; keys on the select change nothing.
  await runner.step('admin changes a role only after confirming it', async () => {
    const email = people.nurse.email;
    const accountOf = async (address) => {
      const { users } = await people.adminClient.call('GET', '/api/v1/admin/users?limit=500');
      return users.find((u) => u.email === address);
    };
    const row = admin.locator('tbody tr', { hasText: email });
    const select = row.getByLabel(`New role for ${email}`);
    await select.focus();
    await admin.keyboard.press('ArrowUp');
    await select.selectOption('clinician');
    await new Promise((r) => setTimeout(r, 1000));
    let role = (await accountOf(email)).role;
    assert(role === 'nurse', `got role ${role} after choosing in the select, want nurse until applied`);

    await row.getByRole('button', { name: `Apply role to ${email}` }).click();
    const dialog = admin.getByRole('dialog');
    await dialog.waitFor();
    const dialogText = await dialog.innerText();
    for (const want of ['Nurse Joy', email, 'from Nurse to Clinician', 'ends now']) {
      assert(dialogText.includes(want), `the role dialog does not contain ${JSON.stringify(want)}:\n${dialogText}`);
    }
    const focused = await dialog.getByRole('button', { name: 'Cancel' }).evaluate((el) => el === document.activeElement);
    assert(focused, 'the role dialog did not put focus on Cancel');
    await shot(admin, 'confirm-role');
    await admin.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    role = (await accountOf(email)).role;
    assert(role === 'nurse', `got role ${role} after cancelling, want nurse`);

    for (const [next, label] of [['clinician', 'Clinician'], ['nurse', 'Nurse']]) {
      await row.getByLabel(/^New role for/).selectOption(next);
      await row.getByRole('button', { name: `Apply role to ${email}` }).click();
      await dialog.getByRole('button', { name: `Change role to ${label}` }).click();
      await admin.getByText(`Nurse Joy is now a ${label.toLowerCase()}`).waitFor();
      role = (await accountOf(email)).role;
      assert(role === next, `got role ${role} after confirming, want ${next}`);
    }

    await row.getByRole('button', { name: `Disable: ${email}` }).click();
    await dialog.getByText('can no longer sign in').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    const status = (await accountOf(email)).status;
    assert(status === 'active', `got status ${status} after cancelling Disable, want active`);

    const own = admin.locator('tbody tr', { hasText: people.admin.email });
    await own.getByText('This is your account.').waitFor();
    const ownButtons = await own.getByRole('button').count();
    assert(ownButtons === 0, `got ${ownButtons} buttons on the admin's own row, want 0`);
  });

  await runner.step('users page shows cards on a phone-sized screen', async () => {
    await admin.setViewportSize({ width: 390, height: 844 });
    const overflow = await admin.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `the users page is ${overflow}px wider than a 390px screen`);
    const wrap = await admin.locator('.table-wrap').evaluate((el) => el.scrollWidth - el.clientWidth);
    assert(wrap <= 0, `the users list scrolls ${wrap}px sideways on a 390px screen`);
    await shot(admin, 'users-phone');
    await admin.setViewportSize({ width: 1280, height: 900 });
  });

  await runner.step('admin reads the audit trail', async () => {
    await admin.getByRole('link', { name: 'Audit trail' }).click();
    await admin.getByRole('heading', { name: 'Audit trail' }).waitFor();
    const rows = await admin.locator('tbody tr').count();
    assert(rows > 10, `got ${rows} audit records, want more than 10 after the scenario`);
    const text = await admin.locator('tbody').innerText();
    for (const secret of [sent.clinician.text, sent.patient.text]) {
      assert(!text.includes(secret), 'the audit trail shows message text');
    }
    await shot(admin, 'audit');
  });

  await runner.step('admin sees a failed-login alert arrive live', async () => {
    await admin.getByRole('link', { name: 'Alerts', exact: true }).click();
    await admin.getByText('Live: new alerts appear here at once.').waitFor();
    const before = await admin.locator('li[data-alert]').count();
    const anon = new ApiClient(server.base);
    for (let i = 0; i < 6; i++) {
      await anon.call('POST', '/api/v1/auth/login', { email: people.nurse.email, password: `wrong guess ${i}` }).catch(() => {});
    }
    // Every failed sign-in costs an argon2id hash, so allow for a busy machine.
    const deadline = Date.now() + 30000;
    let after = before;
    while (after <= before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      after = await admin.locator('li[data-alert]').count();
    }
    assert(after > before, `got ${after} alerts after six failed sign-ins, want more than ${before}`);
    await admin.locator('.toast').first().waitFor();
    await shot(admin, 'alerts');
  });

  // Notices collapse into a counter after a few seconds, so they never
  // cover much of a phone screen.
  await runner.step('alert notices collapse into a counter', async () => {
    await admin.setViewportSize({ width: 390, height: 844 });
    const count = admin.locator('[data-testid="toast-count"]');
    await count.waitFor({ timeout: 15000 });
    assert(/^\d+ new alerts?$/.test(await count.innerText()), `got counter ${await count.innerText()}`);
    const open = await admin.locator('.toast:not(.toast-counter)').count();
    assert(open <= 1, `got ${open} open notices, want at most 1`);
    const box = await admin.locator('.toasts').boundingBox();
    assert(box !== null, 'the notices have no bounding box');
    assert(box.height < 844 / 4, `the notices are ${box.height}px high on an 844px screen, want under a quarter`);
    await shot(admin, 'alerts-phone');
  });

  await runner.check('no serious accessibility violations on any screen', async () => {
    assert(a11y.length === 0, a11y.join('\n'));
  });

  await runner.check('no console errors or CSP violations', async () => {
    const problems = pages.flatMap((p) => p.problems.map((m) => `${p.label}: ${m}`));
    assert(problems.length === 0, problems.join('\n'));
  });
} finally {
  await browser?.close().catch(() => {});
  await server.stop();
}

// The database and attachment files hold ciphertext only.
await runner.step('data directory holds neither message text nor photo bytes', async () => {
  const secrets = [];
  for (const [who, s] of Object.entries(sent)) {
    secrets.push({ label: `${who} message text`, bytes: Buffer.from(s.text, 'utf8') });
    secrets.push({ label: `${who} message reference`, bytes: Buffer.from(s.text.slice(-14), 'utf8') });
    if (!s.image) continue;
    secrets.push({ label: `${who} photo file`, bytes: s.image.png });
    secrets.push({ label: `${who} photo pixels`, bytes: s.image.pixels.subarray(0, 64) });
  }
  const files = filesUnder(server.dataDir);
  assert(files.some((f) => f.endsWith('bedside.db')), `no bedside.db among ${files.join(', ')}`);
  const hits = findSecrets(server.dataDir, secrets);
  assert(hits.length === 0, `plaintext found:\n${hits.join('\n')}`);
});

console.log(runner.summary());
process.exit(runner.ok() ? 0 : 1);
