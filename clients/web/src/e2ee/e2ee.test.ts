import { describe, expect, test } from 'vitest';
import { attachmentCiphertextSize, createDecryptStream, createEncryptStream, newAttachmentKey, readAll, streamOf } from './attachment';
import { certify, checkDeviceListUpdate, parseDeviceList, signDeviceList, verifyDeviceList } from './device';
import { codeOf } from './errors';
import { DeviceKeys, Identity } from './keys';
import { CONTENT_MESSAGE, compareRecipients, marshalSealed, open, parseSealed, seal } from './message';
import { MAX_PAYLOAD_SIZE, paddedSize } from './padding';
import { marshalPayload, parsePayload } from './payload';
import { ReplayGuard } from './replay';
import { computeSafetyNumber } from './safety';

async function party(n: number) {
  const sender = await DeviceKeys.generate('u-alice', 'd-0');
  const recipients = await Promise.all(Array.from({ length: n }, (_, i) => DeviceKeys.generate(`u-${i % 3}`, `d-${i}`)));
  return { sender, recipients, publics: recipients.map((r) => r.public()) };
}

const msg = (payload: Uint8Array) => ({ conversationId: 'c-1', contentType: CONTENT_MESSAGE, timeMs: 1767225600123, payload });

async function openWire(wire: Uint8Array, recipient: DeviceKeys, sender: DeviceKeys): Promise<Uint8Array> {
  return open(recipient, parseSealed(wire), sender.public());
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return codeOf(err);
  }
}

describe('seal and open', () => {
  for (const size of [0, 1, 300, 70_000]) {
    test(`round trip of ${size} bytes`, async () => {
      const p = await party(3);
      const payload = new Uint8Array(size).fill(0x5a);
      const wire = marshalSealed(await seal(p.sender, msg(payload), p.publics));
      const m = parseSealed(wire);
      expect(m.ciphertext.length).toBe(paddedSize(size) + 16);
      for (const r of p.recipients) expect(await openWire(wire, r, p.sender)).toEqual(payload);
    });
  }

  test('private keys are not extractable', async () => {
    const k = await DeviceKeys.generate('u-1', 'd-1');
    expect(k.hpke.privateKey.extractable).toBe(false);
  });

  test('seal rejects bad input', async () => {
    const p = await party(2);
    expect(await outcome(seal(p.sender, msg(new Uint8Array()), []))).toBe('invalid_recipients');
    expect(await outcome(seal(p.sender, msg(new Uint8Array()), [...p.publics, p.publics[0]]))).toBe('invalid_recipients');
    expect(await outcome(seal(p.sender, msg(new Uint8Array(MAX_PAYLOAD_SIZE + 1)), p.publics))).toBe('invalid_size');
    expect(await outcome(seal(p.sender, { ...msg(new Uint8Array()), conversationId: 'a b' }, p.publics))).toBe('invalid_id');
  });

  test('every bit flip is rejected by some recipient', async () => {
    const p = await party(2);
    const payload = new TextEncoder().encode('tamper me');
    const wire = marshalSealed(await seal(p.sender, msg(payload), p.publics));
    for (let bit = 0; bit < wire.length * 8; bit++) {
      const flipped = wire.slice();
      flipped[bit >> 3] ^= 1 << (bit & 7);
      let rejected = 0;
      for (const r of p.recipients) {
        try {
          expect(await openWire(flipped, r, p.sender), `bit ${bit}: changed payload`).toEqual(payload);
        } catch (err) {
          if (codeOf(err) === 'error') throw err;
          rejected++;
        }
      }
      expect(rejected, `bit ${bit} accepted by every recipient`).toBeGreaterThan(0);
    }
  }, 60_000);

  test('compareRecipients lists missing and extra devices', async () => {
    const p = await party(3);
    const m = await seal(p.sender, msg(new Uint8Array([1])), p.publics);
    const current = p.recipients.map((r) => r.ref());
    expect(compareRecipients(m, [...current, p.sender.ref()])).toEqual({ missing: [], extra: [] });
    const added = { userId: 'u-0', deviceId: 'd-new' };
    const got = compareRecipients(m, [...current.slice(1), added]);
    expect(got.missing).toEqual([added]);
    expect(got.extra).toEqual([m.envelopes.find((e) => e.recipient.deviceId === current[0].deviceId)!.recipient]);
  });
});

describe('devices', () => {
  test('first device, second device and a newer list', async () => {
    const identity = await Identity.generate();
    const phone = await DeviceKeys.generate('u-pat', 'd-phone');
    const laptop = await DeviceKeys.generate('u-pat', 'd-laptop');
    const phoneCert = await certify(identity, phone.public(), 1000);
    const v1 = await signDeviceList(identity, 'u-pat', 1, 2000, [phoneCert]);
    const v2 = await signDeviceList(identity, 'u-pat', 2, 3000, [phoneCert, await certify(identity, laptop.public(), 2500)]);
    await verifyDeviceList(identity.publicKey, parseDeviceList(v2.bytes));
    expect(v2.certificates.map((c) => c.device.deviceId)).toEqual(['d-laptop', 'd-phone']);
    expect(() => checkDeviceListUpdate(v1, v2)).not.toThrow();
    expect(await outcome(Promise.resolve().then(() => checkDeviceListUpdate(v2, v1)))).toBe('stale_device_list');
    const other = await Identity.generate();
    expect(await outcome(verifyDeviceList(other.publicKey, v2))).toBe('identity_mismatch');
  });
});

describe('attachments', () => {
  for (const size of [0, 1000, 65_536, 2 * 65_536 + 1]) {
    test(`stream of ${size} bytes`, async () => {
      const key = newAttachmentKey();
      const plain = new Uint8Array(size).map((_, i) => i % 251);
      const { stream, result } = createEncryptStream(key);
      const enc = await readAll(streamOf(plain, 10_007).pipeThrough(stream));
      const { size: n, digest } = await result;
      expect(n).toBe(size);
      expect(enc.length).toBe(attachmentCiphertextSize(size));
      expect(await readAll(streamOf(enc, 4096).pipeThrough(createDecryptStream(key, digest)))).toEqual(plain);
      const truncated = enc.subarray(0, enc.length - 1);
      expect(await outcome(readAll(streamOf(truncated).pipeThrough(createDecryptStream(key, digest))))).not.toBe('ok');
    });
  }
});

test('payload round trip', () => {
  const p = {
    text: 'Température 38,2 °C',
    attachments: [{ id: 'a-1', name: 'photo.jpg', mediaType: 'image/jpeg', size: 12, key: new Uint8Array(32), digest: new Uint8Array(32).fill(1) }],
  };
  expect(parsePayload(marshalPayload(p))).toEqual(p);
});

test('safety number is symmetric', async () => {
  const a = await Identity.generate();
  const b = await Identity.generate();
  const ab = await computeSafetyNumber('u-a', a.publicKey, 'u-b', b.publicKey);
  const ba = await computeSafetyNumber('u-b', b.publicKey, 'u-a', a.publicKey);
  expect(ab).toEqual(ba);
  expect(ab.digits).toMatch(/^\d{60}$/);
  expect(ab.words).toHaveLength(8);
});

test('replay guard rejects a second accept', () => {
  const g = new ReplayGuard(2);
  const id = new Uint8Array(16).fill(9);
  g.accept(id, 10);
  expect(() => g.accept(id, 10)).toThrow(/replay/);
});
