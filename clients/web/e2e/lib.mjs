// Harness for the browser end-to-end test: the bedside server process, a
// step runner that prints "N passed, N failed", TOTP codes and browser
// setup. Everything here talks only to 127.0.0.1 inside the test's own
// network namespace.

import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, closeSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { deflateSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import * as OTPAuth from 'otpauth';

// Chromium flags for WebRTC on loopback with fake camera and microphone.
export const chromiumArgs = [
  '--allow-loopback-in-peer-connection',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is missing; run the test through e2e/run.sh`);
  return v;
}

// Server runs one `bedside serve` child with its output in a log file, so
// no pipe keeps the namespace alive after the test.
export class Server {
  constructor({ bin, dataDir, addr, logPath }) {
    this.bin = bin;
    this.dataDir = dataDir;
    this.addr = addr;
    this.logPath = logPath;
    this.base = `http://${addr}`;
    this.child = null;
    this.exited = null;
  }

  async start(extraArgs = []) {
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    const fd = openSync(this.logPath, 'a');
    this.child = spawn(
      this.bin,
      [
        'serve', '--addr', this.addr, '--data-dir', this.dataDir, '--log-level', 'debug',
        // Media on loopback only: the namespace has no other interface.
        '--media-interfaces', 'lo', '--media-loopback',
        ...extraArgs,
      ],
      { stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      const early = await Promise.race([this.exited, sleep(200).then(() => null)]);
      if (early) throw new Error(`bedside serve exited early (${JSON.stringify(early)}); see ${this.logPath}`);
      try {
        const res = await fetch(`${this.base}/readyz`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
    }
    throw new Error(`bedside serve was not ready within 20 s; see ${this.logPath}`);
  }

  // Stop sends SIGTERM, waits up to 15 s for a graceful shutdown, then
  // kills. It resolves once the process is gone.
  async stop() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const done = await Promise.race([this.exited, sleep(15000).then(() => null)]);
    if (!done) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  // Run a bedside subcommand (admin, audit) and return its stdout.
  run(args) {
    return new Promise((resolve, reject) => {
      execFile(this.bin, args, { timeout: 30000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`bedside ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
  }
}

// Runner executes named steps in order. After the first failed step it
// skips the rest, because each step builds on the previous ones. A failed
// check does not stop the run.
export class Runner {
  constructor(onFailure) {
    this.passed = 0;
    this.failed = 0;
    this.skipped = 0;
    this.aborted = false;
    this.onFailure = onFailure;
  }

  step(name, fn) {
    return this.run(name, fn, true);
  }

  check(name, fn) {
    return this.run(name, fn, false);
  }

  async run(name, fn, fatal) {
    if (this.aborted) {
      this.skipped++;
      console.log(`skip ${name}`);
      return;
    }
    const t0 = Date.now();
    try {
      await fn();
      this.passed++;
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (err) {
      this.failed++;
      if (fatal) this.aborted = true;
      console.log(`FAIL ${name} (${Date.now() - t0} ms)\n     ${String(err?.stack ?? err).replace(/\n/g, '\n     ')}`);
      try {
        await this.onFailure?.(name);
      } catch (e) {
        console.log(`     (saving failure screenshots failed: ${e})`);
      }
    }
  }

  summary() {
    const skipped = this.skipped ? `, ${this.skipped} skipped` : '';
    return `${this.passed} passed, ${this.failed} failed${skipped}`;
  }

  ok() {
    return this.failed === 0 && this.skipped === 0;
  }
}

// Totp produces codes for a seeded secret. The server accepts each time
// step once and one step of drift either way, so a second sign-in within
// the same 30 s uses the next step's code instead of waiting.
export class Totp {
  constructor(base32Secret) {
    this.totp = new OTPAuth.TOTP({
      secret: OTPAuth.Secret.fromBase32(base32Secret.replace(/\s+/g, '')),
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
    });
    this.lastStep = -1;
  }

  async code() {
    for (;;) {
      const now = Date.now();
      const current = Math.floor(now / 30000);
      let step = Math.max(current, this.lastStep + 1);
      // Leave a margin so the code is still in the window when it arrives.
      if (step === current + 1 && now % 30000 > 25000) step = -1;
      if (step >= 0 && step <= current + 1) {
        this.lastStep = step;
        return this.totp.generate({ timestamp: step * 30000 + 1000 });
      }
      await sleep(1000);
    }
  }
}

export async function launchBrowser() {
  return chromium.launch({ executablePath: env('CHROMIUM'), args: chromiumArgs });
}

// newPage opens a page in a fresh context (its own storage, so its own
// IndexedDB device keys) and records console errors and CSP violations.
//
// relayOnly limits the page's peer connections to TURN relay candidates,
// which is what a network that blocks the media port leaves. blockCamera
// makes getUserMedia fail as when the user denied camera access.
// dropSockets lets the test close the page's WebSockets with
// window.dropSockets(), as a network drop would, while media goes on.
export async function newPage(browser, name, viewport, { relayOnly = false, blockCamera = false, dropSockets = false } = {}) {
  const context = await browser.newContext({ viewport, permissions: ['camera', 'microphone'] });
  if (dropSockets) {
    await context.addInitScript(() => {
      const Native = window.WebSocket;
      const open = new Set();
      window.WebSocket = class extends Native {
        constructor(...args) {
          super(...args);
          open.add(this);
          this.addEventListener('close', () => open.delete(this));
        }
      };
      window.dropSockets = () => {
        const n = open.size;
        for (const ws of open) ws.close(4000, 'test drop');
        return n;
      };
    });
  }
  if (blockCamera) {
    await context.addInitScript(() => {
      navigator.mediaDevices.getUserMedia = () =>
        Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    });
  }
  if (relayOnly) {
    await context.addInitScript(() => {
      const Native = window.RTCPeerConnection;
      window.RTCPeerConnection = class extends Native {
        constructor(config = {}) {
          super({ ...config, iceTransportPolicy: 'relay' });
        }
      };
    });
  }
  return watchPage(await context.newPage(), name);
}

// watchPage names a page for screenshots and records its console errors
// and uncaught exceptions in page.problems.
export function watchPage(page, name) {
  page.problems = [];
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error') page.problems.push(`console error: ${text}`);
  });
  page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
  page.setDefaultTimeout(15000);
  page.label = name;
  return page;
}

export function screenshotPath(name) {
  return join(env('E2E_OUT'), `${name}.png`);
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

// makePng returns a size x size RGB PNG of random pixels, so its bytes are
// unique and do not compress, and the pixels for checking the decoded
// image.
export function makePng(size) {
  const pixels = randomBytes(size * size * 3);
  const raw = Buffer.alloc(size * (size * 3 + 1));
  for (let y = 0; y < size; y++) pixels.copy(raw, y * (size * 3 + 1) + 1, y * size * 3, (y + 1) * size * 3);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  return { png, pixels };
}

// filesUnder lists every regular file below dir.
export function filesUnder(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...filesUnder(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

// findSecrets returns "file: label" for every secret found in any file
// below dir. Secrets are {label, bytes} with bytes a Buffer.
export function findSecrets(dir, secrets) {
  const hits = [];
  for (const file of filesUnder(dir)) {
    const data = readFileSync(file);
    for (const s of secrets) {
      if (data.indexOf(s.bytes) >= 0) hits.push(`${file}: ${s.label}`);
    }
  }
  return hits;
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// accessibilityProblems runs axe-core's WCAG 2 A and AA rules on the page
// and returns the serious and critical violations. Playwright evaluates
// the script through the DevTools protocol, which the page's CSP does not
// govern. Live call video cannot carry captions, so that rule is off.
export async function accessibilityProblems(page) {
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] },
      rules: { 'video-caption': { enabled: false } },
      resultTypes: ['violations'],
    });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
  });
}
