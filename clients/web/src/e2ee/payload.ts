// The plaintext of a CONTENT_MESSAGE: text and attachment references
// (docs/e2ee.md section 4).
import { MAX_ATTACHMENT_SIZE } from './attachment';
import { E2EEError } from './errors';
import { Decoder, Encoder, VERSION, decodeUTF8, validID } from './wire';

export const MAX_ATTACHMENTS = 16;
const MAX_PAYLOAD = (1 << 20) - 1;

export interface AttachmentRef {
  id: string;
  name: string;
  mediaType: string;
  size: number;
  key: Uint8Array; // 32 bytes
  digest: Uint8Array; // 32 bytes, SHA-256 of the stream
}

export interface Payload {
  text: string;
  attachments: AttachmentRef[];
}

const utf8 = new TextEncoder();

function invalid(message: string): E2EEError {
  return new E2EEError('invalid_payload', message);
}

function validateAttachment(a: AttachmentRef, name: Uint8Array): void {
  if (!validID(a.id)) throw invalid(`attachment id ${JSON.stringify(a.id)}`);
  if (name.length === 0 || name.length > 255) throw invalid(`attachment ${a.id}: name of ${name.length} bytes`);
  if (!/^[\x21-\x7e]{1,127}$/.test(a.mediaType)) throw invalid(`attachment ${a.id}: media type ${JSON.stringify(a.mediaType)}`);
  if (!Number.isSafeInteger(a.size) || a.size < 0 || a.size > MAX_ATTACHMENT_SIZE) throw invalid(`attachment ${a.id}: size ${a.size}`);
  if (a.key.length !== 32 || a.digest.length !== 32) throw invalid(`attachment ${a.id}: key or digest length`);
}

export function marshalPayload(p: Payload): Uint8Array {
  if (p.attachments.length > MAX_ATTACHMENTS) throw invalid(`${p.attachments.length} attachments`);
  const text = utf8.encode(p.text);
  const e = new Encoder(64 + text.length).u8(VERSION).u32(text.length).raw(text).u8(p.attachments.length);
  for (const a of p.attachments) {
    const name = utf8.encode(a.name);
    validateAttachment(a, name);
    e.str8(a.id).u16(name.length).raw(name).str8(a.mediaType).u64(a.size).raw(a.key).raw(a.digest);
  }
  const out = e.bytes();
  if (out.length > MAX_PAYLOAD) throw invalid(`payload of ${out.length} bytes`);
  return out;
}

/** parsePayload decodes a payload; every failure is invalid_payload. */
export function parsePayload(b: Uint8Array): Payload {
  try {
    return parse(b);
  } catch (err) {
    if (err instanceof E2EEError) throw invalid(err.message);
    throw err;
  }
}

function parse(b: Uint8Array): Payload {
  if (b.length > MAX_PAYLOAD) throw invalid(`payload of ${b.length} bytes`);
  const d = new Decoder(b);
  const v = d.u8('payload version');
  if (v !== VERSION) throw invalid(`payload version ${v}`);
  const textBytes = d.read(d.u32('text length'), 'text');
  const count = d.u8('attachment count');
  if (count > MAX_ATTACHMENTS) throw invalid(`${count} attachments`);
  const attachments: AttachmentRef[] = [];
  for (let i = 0; i < count; i++) {
    const id = d.str8('attachment id');
    const nameBytes = d.read(d.u16('attachment name length'), 'attachment name');
    const mediaType = d.str8('attachment media type');
    const size = d.u64('attachment size');
    const key = d.read(32, 'attachment key').slice();
    const digest = d.read(32, 'attachment digest').slice();
    const name = decodeUTF8(nameBytes);
    if (name === undefined) throw invalid(`attachment ${id}: name is not UTF-8`);
    const a = { id, name, mediaType, size, key, digest };
    validateAttachment(a, nameBytes);
    attachments.push(a);
  }
  d.finish('payload');
  const text = decodeUTF8(textBytes);
  if (text === undefined) throw invalid('text is not UTF-8');
  return { text, attachments };
}
