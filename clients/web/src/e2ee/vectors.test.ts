/// <reference types="node" />
// Runs the language-neutral vectors of testdata/e2ee, which the Go package
// e2ee generates and checks too.
import { describe, expect, test } from 'vitest';
import { createDecryptStream, readAll, streamOf } from './attachment';
import { checkDeviceListUpdate, compareDevices, type DeviceList, parseDeviceCertificate, parseDeviceList, verifyCertificate, verifyDeviceList } from './device';
import { codeOf } from './errors';
import { refString } from './keys';
import { marshalSealed, parseSealed, recipients } from './message';
import { paddedSize, validPaddedSize } from './padding';
import { parsePayload } from './payload';
import { ReplayGuard } from './replay';
import { computeSafetyNumber } from './safety';
import { type DeviceJSON, type MessagesFile, checkMessage, devicePublic, loadVectors, patternPlaintext } from './testdata.node';
import { fromHex, toHex } from './wire';
import { WORD_LIST } from './wordlist';

describe('messages.json', () => {
  const f = loadVectors<MessagesFile>('messages.json');
  test('has vectors', () => expect(f.vectors.length).toBeGreaterThanOrEqual(30));
  for (const v of f.vectors) {
    test(v.name, async () => {
      const got = await checkMessage(f.devices, v);
      expect(got.server, 'server outcome').toBe(v.server_expect);
      expect(got.recipient, 'recipient outcome').toBe(v.expect);
      if (v.expect !== 'ok') return;
      expect(toHex(got.payload!)).toBe(v.payload);
      const m = parseSealed(fromHex(v.sealed));
      const h = m.header;
      expect({
        version: h.version,
        content_type: h.contentType,
        message_id: toHex(h.messageId),
        conversation_id: h.conversationId,
        sender_user_id: h.senderUserId,
        sender_device_id: h.senderDeviceId,
        time_ms: h.timeMs,
      }).toEqual(v.header);
      expect(recipients(m).map(refString)).toEqual(v.recipients);
      expect(toHex(marshalSealed(m))).toBe(v.sealed);
    });
  }
});

interface DevicesFile {
  identities: Record<string, { user_id: string; seed: string; public_key: string }>;
  devices: Record<string, DeviceJSON>;
  certificates: { name: string; identity: string; certificate: string; expect: string; device?: string; created_ms?: number }[];
  lists: {
    name: string;
    pinned_identity: string;
    list: string;
    expect: string;
    user_id?: string;
    version?: number;
    issued_ms?: number;
    device_ids?: string[];
  }[];
  updates: { name: string; previous: string; next: string; expect: string }[];
  comparisons: { name: string; list: string; server_device_ids: string[]; uncertified: string[] | null; missing: string[] | null }[];
}

describe('devices.json', async () => {
  const f = loadVectors<DevicesFile>('devices.json');
  const key = (name: string) => fromHex(f.identities[name].public_key);
  for (const v of f.certificates) {
    test(`certificate ${v.name}`, async () => {
      let outcome = 'ok';
      try {
        const c = parseDeviceCertificate(fromHex(v.certificate));
        await verifyCertificate(c, key(v.identity));
        if (v.expect === 'ok') {
          const want = devicePublic(f.devices[v.device!]);
          expect(refString(c.device)).toBe(refString(want));
          expect(toHex(c.device.hpkeKey)).toBe(toHex(want.hpkeKey));
          expect(toHex(c.device.signingKey)).toBe(toHex(want.signingKey));
          expect(c.createdMs).toBe(v.created_ms);
        }
      } catch (err) {
        outcome = codeOf(err);
      }
      expect(outcome).toBe(v.expect);
    });
  }
  const lists = new Map<string, DeviceList>();
  for (const v of f.lists) {
    let outcome = 'ok';
    try {
      const l = parseDeviceList(fromHex(v.list));
      await verifyDeviceList(key(v.pinned_identity), l);
      lists.set(v.name, l);
    } catch (err) {
      outcome = codeOf(err);
    }
    test(`list ${v.name}`, () => {
      expect(outcome).toBe(v.expect);
      if (v.expect !== 'ok') return;
      const l = lists.get(v.name)!;
      expect([l.userId, l.version, l.issuedMs]).toEqual([v.user_id, v.version, v.issued_ms]);
      expect(l.certificates.map((c) => c.device.deviceId)).toEqual(v.device_ids);
    });
  }
  for (const v of f.updates) {
    test(`update ${v.name}`, () => {
      let outcome = 'ok';
      try {
        checkDeviceListUpdate(lists.get(v.previous)!, lists.get(v.next)!);
      } catch (err) {
        outcome = codeOf(err);
      }
      expect(outcome).toBe(v.expect);
    });
  }
  for (const v of f.comparisons) {
    test(`compare ${v.name}`, () => {
      const got = compareDevices(lists.get(v.list)!, v.server_device_ids);
      expect(got.uncertified).toEqual(v.uncertified ?? []);
      expect(got.missing).toEqual(v.missing ?? []);
    });
  }
});

interface AttachmentsFile {
  chunk_size: number;
  vectors: {
    name: string;
    key: string;
    digest: string;
    expect: string;
    plaintext_size?: number;
    stream?: string;
    segments?: ({ base: string; from: number; to: number } | { bytes: string })[];
  }[];
}

describe('attachments.json', () => {
  const f = loadVectors<AttachmentsFile>('attachments.json');
  const streams = new Map<string, Uint8Array>();
  for (const v of f.vectors) {
    let data: Uint8Array;
    if (v.segments) {
      const parts = v.segments.map((s) => ('bytes' in s ? fromHex(s.bytes) : streams.get(s.base)!.subarray(s.from, s.to)));
      data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let off = 0;
      for (const p of parts) {
        data.set(p, off);
        off += p.length;
      }
    } else {
      data = fromHex(v.stream ?? '');
      streams.set(v.name, data);
    }
    test(v.name, async () => {
      // Odd piece sizes exercise the chunk reassembly.
      for (const piece of [7919, 1 << 20]) {
        let outcome = 'ok';
        let plain: Uint8Array | undefined;
        try {
          plain = await readAll(streamOf(data, piece).pipeThrough(createDecryptStream(fromHex(v.key), fromHex(v.digest))));
        } catch (err) {
          outcome = codeOf(err);
        }
        expect(outcome).toBe(v.expect);
        if (v.expect === 'ok') expect(toHex(plain!)).toBe(toHex(patternPlaintext(v.plaintext_size ?? 0)));
      }
    });
  }
});

describe('payloads.json', () => {
  const f = loadVectors<{
    vectors: {
      name: string;
      payload: string;
      expect: string;
      text?: string;
      attachments?: { id: string; name: string; media_type: string; size: number; key: string; digest: string }[];
    }[];
  }>('payloads.json');
  for (const v of f.vectors) {
    test(v.name, () => {
      let outcome = 'ok';
      try {
        const p = parsePayload(fromHex(v.payload));
        expect(p.text).toBe(v.text ?? '');
        expect(
          p.attachments.map((a) => ({ id: a.id, name: a.name, media_type: a.mediaType, size: a.size, key: toHex(a.key), digest: toHex(a.digest) })),
        ).toEqual(v.attachments ?? []);
      } catch (err) {
        outcome = codeOf(err);
      }
      expect(outcome).toBe(v.expect);
    });
  }
});

test('padding.json', () => {
  const f = loadVectors<{ lengths: { payload_length: number; padded_size: number }[]; block_sizes: { size: number; valid: boolean }[] }>(
    'padding.json',
  );
  for (const p of f.lengths) expect(paddedSize(p.payload_length), `PaddedSize(${p.payload_length})`).toBe(p.padded_size);
  for (const b of f.block_sizes) expect(validPaddedSize(b.size), `validPaddedSize(${b.size})`).toBe(b.valid);
});

describe('safety.json', () => {
  const f = loadVectors<{
    word_list: string[];
    vectors: { name: string; user_a: string; key_a: string; user_b: string; key_b: string; digits: string; digit_groups: string; words: string[] }[];
  }>('safety.json');
  test('word list', () => expect([...WORD_LIST]).toEqual(f.word_list));
  for (const v of f.vectors) {
    test(v.name, async () => {
      const sn = await computeSafetyNumber(v.user_a, fromHex(v.key_a), v.user_b, fromHex(v.key_b));
      expect(sn.digits).toBe(v.digits);
      expect(sn.digitGroups).toBe(v.digit_groups);
      expect(sn.words).toEqual(v.words);
    });
  }
});

test('replay.json', () => {
  const f = loadVectors<{ capacity: number; steps: { message_id: string; time_ms: number; expect: string }[]; final_state: string }>(
    'replay.json',
  );
  const g = new ReplayGuard(f.capacity);
  f.steps.forEach((s, i) => {
    let outcome = 'ok';
    try {
      g.accept(fromHex(s.message_id), s.time_ms);
    } catch (err) {
      outcome = codeOf(err);
    }
    expect(outcome, `step ${i}`).toBe(s.expect);
  });
  expect(toHex(g.marshal())).toBe(f.final_state);
  const restored = new ReplayGuard(f.capacity);
  restored.load(g.marshal());
  expect(toHex(restored.marshal())).toBe(f.final_state);
});
