/// <reference types="node" />
// Mutates the vectors at random (seeded, so failures reproduce) and checks
// that every parser either accepts or throws an E2EEError with a reject
// code: no TypeError, RangeError or hang on hostile bytes.
import { expect, test } from 'vitest';
import { createDecryptStream, readAll, streamOf } from './attachment';
import { parseDeviceCertificate, parseDeviceList } from './device';
import { codeOf } from './errors';
import { marshalSealed, parseSealed } from './message';
import { parsePayload } from './payload';
import { ReplayGuard } from './replay';
import { loadVectors } from './testdata.node';
import { fromHex, toHex } from './wire';

function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

function mutations(seed: Uint8Array, rand: () => number, count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const b = seed.slice();
    switch (i % 4) {
      case 0: // flip a few bits
        for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) b[Math.floor(rand() * b.length)] ^= 1 << Math.floor(rand() * 8);
        out.push(b);
        break;
      case 1: // truncate
        out.push(b.subarray(0, Math.floor(rand() * b.length)));
        break;
      case 2: // set a byte to an extreme value
        b[Math.floor(rand() * b.length)] = rand() < 0.5 ? 0 : 0xff;
        out.push(b);
        break;
      default: // append bytes
        out.push(Uint8Array.from([...b, ...Array.from({ length: 1 + Math.floor(rand() * 4) }, () => Math.floor(rand() * 256))]));
    }
  }
  return out;
}

function expectCodedOrOk(parse: () => unknown, what: string): void {
  try {
    parse();
  } catch (err) {
    expect(codeOf(err), `${what}: ${String(err)}`).not.toBe('error');
  }
}

test('parsers reject mutated vectors with a code', () => {
  const rand = prng(20260115);
  const messages = loadVectors<{ vectors: { sealed: string }[] }>('messages.json').vectors.map((v) => fromHex(v.sealed));
  for (const seed of messages.slice(0, 8)) {
    for (const m of mutations(seed, rand, 200)) {
      expectCodedOrOk(() => {
        const parsed = parseSealed(m);
        expect(toHex(marshalSealed(parsed))).toBe(toHex(m));
      }, 'parseSealed');
    }
  }
  const devices = loadVectors<{ certificates: { certificate: string }[]; lists: { list: string }[] }>('devices.json');
  for (const c of devices.certificates) {
    for (const m of mutations(fromHex(c.certificate), rand, 100)) expectCodedOrOk(() => parseDeviceCertificate(m), 'certificate');
  }
  for (const l of devices.lists) {
    for (const m of mutations(fromHex(l.list), rand, 100)) expectCodedOrOk(() => parseDeviceList(m), 'list');
  }
  const payloads = loadVectors<{ vectors: { payload: string }[] }>('payloads.json');
  for (const p of payloads.vectors) {
    for (const m of mutations(fromHex(p.payload), rand, 100)) expectCodedOrOk(() => parsePayload(m), 'payload');
  }
  const replay = loadVectors<{ final_state: string }>('replay.json');
  for (const m of mutations(fromHex(replay.final_state), rand, 200)) expectCodedOrOk(() => new ReplayGuard(3).load(m), 'replay state');
});

test('attachment reader rejects mutated streams with a code', async () => {
  const rand = prng(7);
  const f = loadVectors<{ vectors: { name: string; key: string; digest: string; stream?: string }[] }>('attachments.json');
  const small = f.vectors.find((v) => v.name === 'ok_small')!;
  for (const m of mutations(fromHex(small.stream!), rand, 200)) {
    try {
      await readAll(streamOf(m, 333).pipeThrough(createDecryptStream(fromHex(small.key), fromHex(small.digest))));
      expect(toHex(m), 'a mutated stream decrypted').toBe(small.stream);
    } catch (err) {
      expect(codeOf(err), String(err)).not.toBe('error');
    }
  }
});
