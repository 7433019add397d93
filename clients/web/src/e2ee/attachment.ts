// Attachment streams: AES-256-GCM chunks of 64 KiB with a counter nonce and
// a final-chunk flag (docs/e2ee.md section 5). Both directions are
// TransformStreams that hold at most about one chunk, so whole files never
// sit in memory. WebCrypto has no incremental hash, so the stream digest
// uses @noble/hashes.
import { sha256 } from '@noble/hashes/sha2.js';
import { aesKey, aesOpen, aesSeal, hkdf, randomBytes } from './crypto';
import { E2EEError } from './errors';
import { LABEL_ATTACHMENT_KEY, VERSION, constantTimeEqual, toHex } from './wire';

export const CHUNK_SIZE = 64 * 1024;
export const MAX_ATTACHMENT_SIZE = 2 ** 30;
const TAG = 16;
const ENC_CHUNK = CHUNK_SIZE + TAG;
const HEADER = Uint8Array.of(0x42, 0x53, 0x41, VERSION); // "BSA" and the version

export function newAttachmentKey(): Uint8Array {
  return randomBytes(32);
}

/** attachmentCiphertextSize returns the stream length for n plaintext bytes. */
export function attachmentCiphertextSize(n: number): number {
  return HEADER.length + n + TAG * Math.max(1, Math.ceil(n / CHUNK_SIZE));
}

async function chunkKey(key: Uint8Array): Promise<CryptoKey> {
  if (key.length !== 32) throw new E2EEError('malformed', `attachment key of ${key.length} bytes`);
  return aesKey(await hkdf(key, LABEL_ATTACHMENT_KEY, 32));
}

/** chunkNonce is the 11-byte big-endian counter followed by the final flag. */
function chunkNonce(counter: number, final: boolean): Uint8Array {
  const n = new Uint8Array(12);
  let c = counter;
  for (let i = 10; i >= 3 && c > 0; i--) {
    n[i] = c % 256;
    c = Math.floor(c / 256);
  }
  n[11] = final ? 1 : 0;
  return n;
}

export interface AttachmentResult {
  size: number;
  digest: Uint8Array;
}

/**
 * createEncryptStream returns a TransformStream from plaintext to the
 * encrypted stream, and a promise of the plaintext size and stream digest
 * that resolves when the stream closes.
 */
export function createEncryptStream(key: Uint8Array): {
  stream: TransformStream<Uint8Array, Uint8Array>;
  result: Promise<AttachmentResult>;
} {
  let resolve!: (r: AttachmentResult) => void;
  let reject!: (e: unknown) => void;
  const result = new Promise<AttachmentResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  result.catch(() => {});
  const hash = sha256.create();
  const buffer = new Uint8Array(CHUNK_SIZE);
  let filled = 0;
  let counter = 0;
  let size = 0;
  let aes: CryptoKey;

  const emit = (ctrl: TransformStreamDefaultController<Uint8Array>, b: Uint8Array) => {
    hash.update(b);
    ctrl.enqueue(b);
  };
  const sealChunk = async (ctrl: TransformStreamDefaultController<Uint8Array>, final: boolean) => {
    emit(ctrl, await aesSeal(aes, chunkNonce(counter, final), buffer.subarray(0, filled), HEADER));
    counter++;
    filled = 0;
  };

  const stream = new TransformStream<Uint8Array, Uint8Array>({
    async start(ctrl) {
      try {
        aes = await chunkKey(key);
      } catch (err) {
        reject(err);
        throw err;
      }
      emit(ctrl, HEADER.slice());
    },
    async transform(chunk, ctrl) {
      if (size + chunk.length > MAX_ATTACHMENT_SIZE) {
        const err = new E2EEError('attachment_too_large', `attachment of more than ${MAX_ATTACHMENT_SIZE} bytes`);
        reject(err);
        throw err;
      }
      let p = chunk;
      while (p.length > 0) {
        // A full chunk is sealed only once more data follows it.
        if (filled === CHUNK_SIZE) await sealChunk(ctrl, false);
        const n = Math.min(CHUNK_SIZE - filled, p.length);
        buffer.set(p.subarray(0, n), filled);
        filled += n;
        p = p.subarray(n);
        size += n;
      }
    },
    async flush(ctrl) {
      await sealChunk(ctrl, true);
      resolve({ size, digest: hash.digest() });
    },
  });
  return { stream, result };
}

/**
 * createDecryptStream returns a TransformStream from the encrypted stream to
 * the plaintext. It errors with an E2EEError on any reject; a caller keeps the
 * output only when the stream closes without error. The digest is checked
 * before the final chunk's plaintext is released.
 */
export function createDecryptStream(key: Uint8Array, digest: Uint8Array): TransformStream<Uint8Array, Uint8Array> {
  const hash = sha256.create();
  const pending: Uint8Array[] = [];
  let pendingLength = 0;
  let headerDone = false;
  let counter = 0;
  let aes: CryptoKey;

  const take = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const head = pending[0];
      const k = Math.min(head.length, n - off);
      out.set(head.subarray(0, k), off);
      off += k;
      if (k === head.length) pending.shift();
      else pending[0] = head.subarray(k);
    }
    pendingLength -= n;
    return out;
  };

  const openChunk = async (chunk: Uint8Array, final: boolean): Promise<Uint8Array> => {
    if (counter * CHUNK_SIZE >= MAX_ATTACHMENT_SIZE) {
      throw new E2EEError('attachment_too_large', `attachment stream beyond ${MAX_ATTACHMENT_SIZE} bytes`);
    }
    const plain = await aesOpen(aes, chunkNonce(counter, final), chunk, HEADER);
    if (!plain) {
      if (await aesOpen(aes, chunkNonce(counter, !final), chunk, HEADER)) {
        if (final) throw new E2EEError('attachment_truncated', `stream ends after chunk ${counter}`);
        throw new E2EEError('attachment_trailing_data', `data after final chunk ${counter}`);
      }
      throw new E2EEError('attachment_chunk_failed', `chunk ${counter}`);
    }
    if (final && plain.length === 0 && counter > 0) {
      throw new E2EEError('attachment_chunk_failed', `empty final chunk ${counter} after data`);
    }
    hash.update(chunk);
    counter++;
    if (final) {
      const got = hash.digest();
      if (!constantTimeEqual(got, digest)) throw new E2EEError('attachment_digest_mismatch', `attachment digest ${toHex(got)}`);
    }
    return plain;
  };

  const readHeader = () => {
    const h = take(HEADER.length);
    if (h.some((b, i) => b !== HEADER[i])) throw new E2EEError('attachment_bad_header', `attachment header ${toHex(h)}`);
    hash.update(h);
    headerDone = true;
  };

  return new TransformStream<Uint8Array, Uint8Array>({
    async start() {
      aes = await chunkKey(key);
    },
    async transform(chunk, ctrl) {
      pending.push(chunk);
      pendingLength += chunk.length;
      if (!headerDone && pendingLength >= HEADER.length) readHeader();
      // A full chunk with more bytes after it cannot be the final one.
      while (headerDone && pendingLength > ENC_CHUNK) ctrl.enqueue(await openChunk(take(ENC_CHUNK), false));
    },
    async flush(ctrl) {
      if (!headerDone) throw new E2EEError('attachment_truncated', 'attachment header');
      if (pendingLength === 0) throw new E2EEError('attachment_truncated', `stream ends after chunk ${counter}`);
      ctrl.enqueue(await openChunk(take(pendingLength), true));
    },
  });
}

/** readAll collects a stream into one array (for small data and tests). */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.length;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** streamOf returns a stream that yields b in pieces of at most pieceSize bytes. */
export function streamOf(b: Uint8Array, pieceSize = 16 * 1024): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (off >= b.length) {
        ctrl.close();
        return;
      }
      ctrl.enqueue(b.slice(off, off + pieceSize));
      off += pieceSize;
    },
  });
}
