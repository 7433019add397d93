// WebCrypto and @hpke/core primitives used by the formats. Browser-safe: only
// globalThis.crypto.subtle and @hpke/core.
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { E2EEError } from './errors';
import { ascii, concat } from './wire';

const subtle = globalThis.crypto.subtle;

/** suite is HPKE mode base with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM. */
export const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
});

/** buf returns a standalone ArrayBuffer copy of b, as WebCrypto expects. */
export function buf(b: Uint8Array): ArrayBuffer {
  return b.slice().buffer as ArrayBuffer;
}

export function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  return b;
}

export async function sha256(b: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle.digest('SHA-256', buf(b)));
}

export async function sha512(b: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle.digest('SHA-512', buf(b)));
}

/** hkdf is HKDF-SHA256 with an empty salt and an ASCII info label. */
export async function hkdf(ikm: Uint8Array, info: string, length: number): Promise<Uint8Array> {
  const key = await subtle.importKey('raw', buf(ikm), 'HKDF', false, ['deriveBits']);
  const bits = await subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: new ArrayBuffer(0), info: buf(ascii(info)) },
    key,
    length * 8,
  );
  return new Uint8Array(bits);
}

export async function aesKey(raw: Uint8Array): Promise<CryptoKey> {
  return subtle.importKey('raw', buf(raw), 'AES-GCM', false, ['encrypt', 'decrypt']);
}

export async function aesSeal(key: CryptoKey, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  const ct = await subtle.encrypt({ name: 'AES-GCM', iv: buf(nonce), additionalData: buf(aad) }, key, buf(plaintext));
  return new Uint8Array(ct);
}

/** aesOpen returns undefined when authentication fails. */
export async function aesOpen(
  key: CryptoKey,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array | undefined> {
  if (ciphertext.length < 16) return undefined;
  try {
    const pt = await subtle.decrypt({ name: 'AES-GCM', iv: buf(nonce), additionalData: buf(aad) }, key, buf(ciphertext));
    return new Uint8Array(pt);
  } catch {
    return undefined;
  }
}

// PKCS #8 prefixes of raw 32-byte private keys (RFC 8410).
const ED25519_PKCS8 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const X25519_PKCS8 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);

function base64url(s: string): Uint8Array {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

/**
 * importKeyPair imports a raw 32-byte Ed25519 seed or X25519 private key. The
 * public key comes from a temporary extractable copy; the returned private key
 * is extractable only when asked.
 */
async function importKeyPair(
  alg: 'Ed25519' | 'X25519',
  raw: Uint8Array,
  extractable: boolean,
): Promise<{ pair: CryptoKeyPair; publicRaw: Uint8Array }> {
  if (raw.length !== 32) throw new E2EEError('malformed', `${alg} private key is ${raw.length} bytes, want 32`);
  const pkcs8 = buf(concat(alg === 'Ed25519' ? ED25519_PKCS8 : X25519_PKCS8, raw));
  const privUsages: KeyUsage[] = alg === 'Ed25519' ? ['sign'] : ['deriveBits'];
  const temp = await subtle.importKey('pkcs8', pkcs8, { name: alg }, true, privUsages);
  const jwk = await subtle.exportKey('jwk', temp);
  const publicRaw = base64url(jwk.x ?? '');
  const privateKey = extractable ? temp : await subtle.importKey('pkcs8', pkcs8, { name: alg }, false, privUsages);
  const publicKey = await subtle.importKey('raw', buf(publicRaw), { name: alg }, true, alg === 'Ed25519' ? ['verify'] : []);
  return { pair: { privateKey, publicKey }, publicRaw };
}

export function importEd25519(seed: Uint8Array, extractable = false) {
  return importKeyPair('Ed25519', seed, extractable);
}

export function importX25519(priv: Uint8Array, extractable = false) {
  return importKeyPair('X25519', priv, extractable);
}

/** generateKeyPair creates a key pair whose private key cannot be exported. */
export async function generateKeyPair(alg: 'Ed25519' | 'X25519'): Promise<{ pair: CryptoKeyPair; publicRaw: Uint8Array }> {
  const usages: KeyUsage[] = alg === 'Ed25519' ? ['sign', 'verify'] : ['deriveBits'];
  const pair = (await subtle.generateKey({ name: alg }, false, usages)) as CryptoKeyPair;
  const publicRaw = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
  return { pair, publicRaw };
}

export async function ed25519Sign(key: CryptoKey, message: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle.sign({ name: 'Ed25519' }, key, buf(message)));
}

/** ed25519Verify returns false for a malformed key or signature. */
export async function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    const key = await subtle.importKey('raw', buf(publicKey), { name: 'Ed25519' }, false, ['verify']);
    return await subtle.verify({ name: 'Ed25519' }, key, buf(signature), buf(message));
  } catch {
    return false;
  }
}
