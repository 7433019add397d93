// Byte encoding shared by every format in docs/e2ee.md: big-endian integers,
// str8 strings and identifiers, and the signed-bytes convention.
import { E2EEError } from './errors';

/** VERSION is the first byte of every versioned structure. */
export const VERSION = 1;
/** MAX_SAFE_U64 bounds every 64-bit integer on the wire (2^53-1). */
export const MAX_SAFE_U64 = Number.MAX_SAFE_INTEGER;
/** MAX_ID_LENGTH is the maximum identifier length in bytes. */
export const MAX_ID_LENGTH = 64;

// Domain-separation labels: the exact strings of docs/e2ee.md section 1.1,
// each used in one place.
export const LABEL_DEVICE_CERTIFICATE = 'bedside-e2ee-v1 device certificate';
export const LABEL_DEVICE_LIST = 'bedside-e2ee-v1 device list';
export const LABEL_MESSAGE_SIGNATURE = 'bedside-e2ee-v1 message signature';
export const LABEL_ENVELOPE = 'bedside-e2ee-v1 envelope';
export const LABEL_MESSAGE_KEY = 'bedside-e2ee-v1 message key';
export const LABEL_KEY_COMMITMENT = 'bedside-e2ee-v1 key commitment';
export const LABEL_ATTACHMENT_KEY = 'bedside-e2ee-v1 attachment key';
export const LABEL_SAFETY_NUMBER = 'bedside-e2ee-v1 safety number';

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

export function ascii(s: string): Uint8Array {
  return utf8.encode(s);
}

/** decodeUTF8 decodes strict UTF-8 and returns undefined for invalid bytes. */
export function decodeUTF8(b: Uint8Array): string | undefined {
  try {
    return utf8Strict.decode(b);
  } catch {
    return undefined;
  }
}

/** validID reports whether s is 1 to 64 bytes of A-Z a-z 0-9 - _ . : */
export function validID(s: string): boolean {
  return /^[A-Za-z0-9._:-]{1,64}$/.test(s);
}

export function checkID(what: string, s: string): void {
  if (!validID(s)) throw new E2EEError('invalid_id', `${what} ${JSON.stringify(s.slice(0, MAX_ID_LENGTH))}`);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** constantTimeEqual compares two secrets without an early exit. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length - b.length;
}

/** compareStrings orders ASCII identifiers bytewise, as Go compares strings. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new E2EEError('malformed', 'invalid hex');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** signedBytes returns label || 0x00 || body, what every signature covers. */
export function signedBytes(label: string, body: Uint8Array): Uint8Array {
  return concat(ascii(label), new Uint8Array([0]), body);
}

/** Encoder appends big-endian, length-prefixed fields. */
export class Encoder {
  private buf: Uint8Array;
  private n = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }

  private grow(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }

  u8(v: number): this {
    this.grow(1);
    this.buf[this.n++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    return this.u8(v >>> 8).u8(v);
  }

  u32(v: number): this {
    return this.u16(v >>> 16).u16(v & 0xffff);
  }

  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new E2EEError('malformed', `integer ${v} out of range`);
    return this.u32(Math.floor(v / 2 ** 32)).u32(v % 2 ** 32);
  }

  raw(p: Uint8Array): this {
    this.grow(p.length);
    this.buf.set(p, this.n);
    this.n += p.length;
    return this;
  }

  str8(s: string): this {
    const b = ascii(s);
    if (b.length > 255) throw new E2EEError('malformed', 'string longer than 255 bytes');
    return this.u8(b.length).raw(b);
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

/** Decoder reads what Encoder writes and throws E2EEError('malformed') on short input. */
export class Decoder {
  private off = 0;

  constructor(private readonly b: Uint8Array) {}

  get offset(): number {
    return this.off;
  }

  get remaining(): number {
    return this.b.length - this.off;
  }

  read(n: number, what: string): Uint8Array {
    if (n < 0 || this.remaining < n) {
      throw new E2EEError('malformed', `truncated ${what}: need ${n} bytes, have ${this.remaining}`);
    }
    const p = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return p;
  }

  u8(what: string): number {
    return this.read(1, what)[0];
  }

  u16(what: string): number {
    const p = this.read(2, what);
    return (p[0] << 8) | p[1];
  }

  u32(what: string): number {
    const p = this.read(4, what);
    return ((p[0] << 24) >>> 0) + ((p[1] << 16) | (p[2] << 8) | p[3]);
  }

  u64(what: string): number {
    const hi = this.u32(what);
    const lo = this.u32(what);
    if (hi >= 2 ** 21) throw new E2EEError('malformed', `${what} exceeds 2^53-1`);
    return hi * 2 ** 32 + lo;
  }

  str8(what: string): string {
    const n = this.u8(`${what} length`);
    const b = this.read(n, what);
    let s = '';
    for (const c of b) s += String.fromCharCode(c);
    return s;
  }

  id(what: string): string {
    const s = this.str8(what);
    checkID(what, s);
    return s;
  }

  finish(what: string): void {
    if (this.remaining !== 0) throw new E2EEError('malformed', `${this.remaining} trailing bytes after ${what}`);
  }
}
