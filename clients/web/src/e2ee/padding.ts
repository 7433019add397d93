// Padmé padding with a 256-byte minimum (docs/e2ee.md section 3.3).
import { E2EEError } from './errors';

export const MIN_PADDED_SIZE = 256;
export const MAX_PADDED_SIZE = 1 << 20;
export const MAX_PAYLOAD_SIZE = MAX_PADDED_SIZE - 1;

function bitLength(n: number): number {
  return n === 0 ? 0 : 32 - Math.clz32(n);
}

/** padme rounds n up so that only the top floor(log2 E)+1 bits of n remain, E = floor(log2 n). */
export function padme(n: number): number {
  if (n < 2) return n;
  const e = bitLength(n) - 1;
  const s = bitLength(e);
  const mask = (1 << (e - s)) - 1;
  return (n + mask) & ~mask;
}

export function paddedSize(n: number): number {
  return Math.max(MIN_PADDED_SIZE, padme(n + 1));
}

export function validPaddedSize(n: number): boolean {
  return n >= MIN_PADDED_SIZE && n <= MAX_PADDED_SIZE && padme(n) === n;
}

export function pad(payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_PAYLOAD_SIZE) {
    throw new E2EEError('invalid_size', `payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD_SIZE}`);
  }
  const out = new Uint8Array(paddedSize(payload.length));
  out.set(payload);
  out[payload.length] = 0x80;
  return out;
}

export function unpad(padded: Uint8Array): Uint8Array {
  if (!validPaddedSize(padded.length)) throw new E2EEError('bad_padding', `padded length ${padded.length}`);
  let i = padded.length - 1;
  while (i >= 0 && padded[i] === 0) i--;
  if (i < 0 || padded[i] !== 0x80) throw new E2EEError('bad_padding', 'padding marker not found');
  if (paddedSize(i) !== padded.length) {
    throw new E2EEError('bad_padding', `payload of ${i} bytes in a ${padded.length}-byte padded block`);
  }
  return padded.subarray(0, i);
}
