// Sealed messages: header, content encryption, HPKE key envelopes and the
// sender signature (docs/e2ee.md section 3).
import { aesKey, aesOpen, aesSeal, buf, ed25519Verify, hkdf, randomBytes, sha256, suite } from './crypto';
import { E2EEError } from './errors';
import { type DeviceKeys, type DevicePublic, type DeviceRef, compareRefs, refString, sameRef, validateDevicePublic } from './keys';
import { pad, unpad, validPaddedSize, MAX_PADDED_SIZE, MIN_PADDED_SIZE } from './padding';
import {
  Decoder,
  Encoder,
  LABEL_ENVELOPE,
  LABEL_KEY_COMMITMENT,
  LABEL_MESSAGE_KEY,
  LABEL_MESSAGE_SIGNATURE,
  MAX_ID_LENGTH,
  VERSION,
  ascii,
  checkID,
  constantTimeEqual,
  signedBytes,
  toHex,
} from './wire';

/** CONTENT_MESSAGE is the only content type: the plaintext is a Payload. */
export const CONTENT_MESSAGE = 1;
export const MAX_RECIPIENTS = 256;
const TAG = 16;
const MAX_HEADER_SIZE = 1 + 1 + 16 + 3 * (1 + MAX_ID_LENGTH) + 8;
const MAX_SEALED_SIZE =
  2 + MAX_HEADER_SIZE + 32 + 4 + MAX_PADDED_SIZE + TAG + 2 + MAX_RECIPIENTS * (2 + 2 * MAX_ID_LENGTH + 32 + 48) + 64;
const ZERO_NONCE = new Uint8Array(12);

export interface Header {
  version: number;
  contentType: number;
  messageId: Uint8Array; // 16 bytes
  conversationId: string;
  senderUserId: string;
  senderDeviceId: string;
  timeMs: number;
}

export interface Envelope {
  recipient: DeviceRef;
  enc: Uint8Array; // 32 bytes
  ciphertext: Uint8Array; // 48 bytes
}

export interface SealedMessage {
  header: Header;
  headerBytes: Uint8Array;
  commitment: Uint8Array;
  ciphertext: Uint8Array;
  envelopes: Envelope[];
  signature: Uint8Array;
}

/** Message is what a sender seals; seal adds the message id and the sender. */
export interface Message {
  conversationId: string;
  contentType: number;
  timeMs: number;
  payload: Uint8Array;
}

export function headerSender(h: Header): DeviceRef {
  return { userId: h.senderUserId, deviceId: h.senderDeviceId };
}

export function messageIdHex(h: Header): string {
  return toHex(h.messageId);
}

function marshalHeader(h: Header): Uint8Array {
  if (h.version !== VERSION) throw new E2EEError('unsupported_version', `header version ${h.version}`);
  if (h.contentType !== CONTENT_MESSAGE) throw new E2EEError('invalid_content_type', `content type ${h.contentType}`);
  checkID('conversation id', h.conversationId);
  checkID('sender user id', h.senderUserId);
  checkID('sender device id', h.senderDeviceId);
  return new Encoder()
    .u8(h.version)
    .u8(h.contentType)
    .raw(h.messageId)
    .str8(h.conversationId)
    .str8(h.senderUserId)
    .str8(h.senderDeviceId)
    .u64(h.timeMs)
    .bytes();
}

function parseHeader(b: Uint8Array): Header {
  const d = new Decoder(b);
  const version = d.u8('header version');
  if (version !== VERSION) throw new E2EEError('unsupported_version', `header version ${version}`);
  const contentType = d.u8('content type');
  if (contentType !== CONTENT_MESSAGE) throw new E2EEError('invalid_content_type', `content type ${contentType}`);
  const messageId = d.read(16, 'message id').slice();
  const conversationId = d.id('conversation id');
  const senderUserId = d.id('sender user id');
  const senderDeviceId = d.id('sender device id');
  const timeMs = d.u64('message time');
  d.finish('header');
  return { version, contentType, messageId, conversationId, senderUserId, senderDeviceId, timeMs };
}

/** marshalSealed encodes the wire form. */
export function marshalSealed(m: SealedMessage): Uint8Array {
  const e = new Encoder(1024 + m.ciphertext.length + 100 * m.envelopes.length)
    .u16(m.headerBytes.length)
    .raw(m.headerBytes)
    .raw(m.commitment)
    .u32(m.ciphertext.length)
    .raw(m.ciphertext)
    .u16(m.envelopes.length);
  for (const env of m.envelopes) e.str8(env.recipient.userId).str8(env.recipient.deviceId).raw(env.enc).raw(env.ciphertext);
  return e.raw(m.signature).bytes();
}

/**
 * parseSealed decodes the wire form and validates everything that needs no
 * key: sizes, version, header fields, the ciphertext length and the order of
 * the envelopes.
 */
export function parseSealed(b: Uint8Array): SealedMessage {
  if (b.length > MAX_SEALED_SIZE) throw new E2EEError('malformed', `sealed message of ${b.length} bytes`);
  const d = new Decoder(b);
  const headerLength = d.u16('header length');
  if (headerLength > MAX_HEADER_SIZE) throw new E2EEError('malformed', `header of ${headerLength} bytes`);
  const headerBytes = d.read(headerLength, 'header').slice();
  const header = parseHeader(headerBytes);
  const commitment = d.read(32, 'key commitment').slice();
  const ciphertextLength = d.u32('ciphertext length');
  if (ciphertextLength < MIN_PADDED_SIZE + TAG || !validPaddedSize(ciphertextLength - TAG)) {
    throw new E2EEError('invalid_size', `ciphertext of ${ciphertextLength} bytes`);
  }
  const ciphertext = d.read(ciphertextLength, 'ciphertext').slice();
  const count = d.u16('envelope count');
  if (count === 0 || count > MAX_RECIPIENTS) throw new E2EEError('invalid_recipients', `${count} envelopes`);
  const envelopes: Envelope[] = [];
  for (let i = 0; i < count; i++) {
    const userId = d.id('recipient user id');
    const deviceId = d.id('recipient device id');
    const enc = d.read(32, 'envelope enc').slice();
    const ct = d.read(48, 'envelope ciphertext').slice();
    const recipient = { userId, deviceId };
    if (i > 0 && compareRefs(envelopes[i - 1].recipient, recipient) >= 0) {
      throw new E2EEError('invalid_recipients', `recipient ${refString(recipient)} duplicated or out of order`);
    }
    envelopes.push({ recipient, enc, ciphertext: ct });
  }
  const signature = d.read(64, 'signature').slice();
  d.finish('sealed message');
  return { header, headerBytes, commitment, ciphertext, envelopes, signature };
}

export function recipients(m: SealedMessage): DeviceRef[] {
  return m.envelopes.map((e) => e.recipient);
}

async function signedMessageBytes(m: Omit<SealedMessage, 'signature' | 'header'>): Promise<Uint8Array> {
  const e = new Encoder(1024)
    .u16(m.headerBytes.length)
    .raw(m.headerBytes)
    .raw(await sha256(m.ciphertext))
    .raw(m.commitment)
    .u16(m.envelopes.length);
  for (const env of m.envelopes) e.str8(env.recipient.userId).str8(env.recipient.deviceId);
  return signedBytes(LABEL_MESSAGE_SIGNATURE, e.bytes());
}

/** verifySignature checks the sender device's signature (what the server runs). */
export async function verifySignature(m: SealedMessage, signingKey: Uint8Array): Promise<void> {
  if (!(await ed25519Verify(signingKey, await signedMessageBytes(m), m.signature))) {
    throw new E2EEError('bad_signature', `message ${messageIdHex(m.header)} from ${refString(headerSender(m.header))}`);
  }
}

async function messageKeys(contentKey: Uint8Array): Promise<{ key: CryptoKey; commitment: Uint8Array }> {
  const key = await aesKey(await hkdf(contentKey, LABEL_MESSAGE_KEY, 32));
  const commitment = await hkdf(contentKey, LABEL_KEY_COMMITMENT, 32);
  return { key, commitment };
}

async function envelopeInfo(h: Header, headerBytes: Uint8Array, r: DeviceRef): Promise<Uint8Array> {
  return new Encoder()
    .raw(ascii(LABEL_ENVELOPE))
    .u8(0)
    .u8(h.version)
    .str8(h.conversationId)
    .raw(h.messageId)
    .str8(r.userId)
    .str8(r.deviceId)
    .raw(await sha256(headerBytes))
    .bytes();
}

function sortRecipients(list: DevicePublic[]): DevicePublic[] {
  if (list.length === 0 || list.length > MAX_RECIPIENTS) throw new E2EEError('invalid_recipients', `${list.length} recipients`);
  const sorted = [...list].sort(compareRefs);
  sorted.forEach((r, i) => {
    validateDevicePublic(r);
    if (i > 0 && sameRef(sorted[i - 1], r)) throw new E2EEError('invalid_recipients', `recipient ${refString(r)} listed twice`);
  });
  return sorted;
}

/** seal encrypts msg from sender to every recipient device (the sender's other devices included). */
export async function seal(sender: DeviceKeys, msg: Message, recipientDevices: DevicePublic[]): Promise<SealedMessage> {
  const sorted = sortRecipients(recipientDevices);
  const header: Header = {
    version: VERSION,
    contentType: msg.contentType,
    messageId: randomBytes(16),
    conversationId: msg.conversationId,
    senderUserId: sender.userId,
    senderDeviceId: sender.deviceId,
    timeMs: Math.floor(msg.timeMs),
  };
  const headerBytes = marshalHeader(header);
  const padded = pad(msg.payload);
  const contentKey = randomBytes(32);
  const { key, commitment } = await messageKeys(contentKey);
  const ciphertext = await aesSeal(key, ZERO_NONCE, padded, headerBytes);
  const envelopes: Envelope[] = [];
  for (const r of sorted) {
    const recipientPublicKey = await suite.kem.deserializePublicKey(buf(r.hpkeKey));
    const sealed = await suite.seal(
      { recipientPublicKey, info: buf(await envelopeInfo(header, headerBytes, r)) },
      buf(contentKey),
    );
    envelopes.push({
      recipient: { userId: r.userId, deviceId: r.deviceId },
      enc: new Uint8Array(sealed.enc),
      ciphertext: new Uint8Array(sealed.ct),
    });
  }
  const unsigned = { headerBytes, commitment, ciphertext, envelopes };
  const signature = await sender.sign(await signedMessageBytes(unsigned));
  return { header, ...unsigned, signature };
}

/**
 * open verifies and decrypts m for the recipient and returns the payload.
 * sender comes from the sender's verified device list. Checks run in the
 * order of docs/e2ee.md section 3.6; replays are the caller's ReplayGuard.
 */
export async function open(recipient: DeviceKeys, m: SealedMessage, sender: DevicePublic): Promise<Uint8Array> {
  const id = messageIdHex(m.header);
  if (!sameRef(sender, headerSender(m.header))) {
    throw new E2EEError('sender_mismatch', `message ${id}: key of ${refString(sender)} for ${refString(headerSender(m.header))}`);
  }
  await verifySignature(m, sender.signingKey);
  const env = m.envelopes.find((e) => sameRef(e.recipient, recipient.ref()));
  if (!env) throw new E2EEError('not_recipient', `message ${id} for ${refString(recipient.ref())}`);
  let contentKey: Uint8Array;
  try {
    const info = await envelopeInfo(m.header, m.headerBytes, env.recipient);
    const pt = await suite.open({ recipientKey: recipient.hpke, enc: buf(env.enc), info: buf(info) }, buf(env.ciphertext));
    contentKey = new Uint8Array(pt);
  } catch {
    throw new E2EEError('envelope_open_failed', `message ${id}: envelope for ${refString(env.recipient)}`);
  }
  if (contentKey.length !== 32) throw new E2EEError('envelope_open_failed', `message ${id}: content key length`);
  const { key, commitment } = await messageKeys(contentKey);
  if (!constantTimeEqual(commitment, m.commitment)) throw new E2EEError('key_commitment_mismatch', `message ${id}`);
  const padded = await aesOpen(key, ZERO_NONCE, m.ciphertext, m.headerBytes);
  if (!padded) throw new E2EEError('decrypt_failed', `message ${id}`);
  return unpad(padded).slice();
}

/**
 * compareRecipients compares the envelope set with the current devices of
 * every participant, ignoring the sending device. It returns the devices
 * without an envelope and the envelopes for devices that are not current.
 */
export function compareRecipients(m: SealedMessage, current: DeviceRef[]): { missing: DeviceRef[]; extra: DeviceRef[] } {
  const sender = headerSender(m.header);
  const key = (r: DeviceRef) => refString(r);
  const have = new Set(m.envelopes.map((e) => key(e.recipient)));
  const want = new Set(current.map(key));
  const seen = new Set<string>();
  const missing = current
    .filter((r) => !sameRef(r, sender) && !have.has(key(r)) && !seen.has(key(r)) && seen.add(key(r)))
    .sort(compareRefs);
  const extra = m.envelopes.map((e) => e.recipient).filter((r) => !sameRef(r, sender) && !want.has(key(r)));
  return { missing, extra };
}

