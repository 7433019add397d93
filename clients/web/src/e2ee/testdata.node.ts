/// <reference types="node" />
// Node-only test helpers that read testdata/e2ee. Only *.test.ts files
// import this module; the browser bundle never does.
import { readFileSync } from 'node:fs';
import { codeOf } from './errors';
import { DeviceKeys, type DevicePublic, sameRef } from './keys';
import { headerSender, open, parseSealed, verifySignature } from './message';
import { fromHex } from './wire';

export const VECTOR_DIR = new URL('../../../../testdata/e2ee/', import.meta.url);

export function loadVectors<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, VECTOR_DIR), 'utf8')) as T;
}

export interface DeviceJSON {
  user_id: string;
  device_id: string;
  hpke_private_key: string;
  hpke_public_key: string;
  signing_seed: string;
  signing_public_key: string;
}

export function devicePublic(d: DeviceJSON): DevicePublic {
  return {
    userId: d.user_id,
    deviceId: d.device_id,
    hpkeKey: fromHex(d.hpke_public_key),
    signingKey: fromHex(d.signing_public_key),
  };
}

export function deviceKeys(d: DeviceJSON): Promise<DeviceKeys> {
  return DeviceKeys.fromRaw(d.user_id, d.device_id, fromHex(d.hpke_private_key), fromHex(d.signing_seed));
}

export interface MessageVector {
  name: string;
  rule: string;
  description: string;
  sender: string;
  recipient: string;
  server_expect: string;
  expect: string;
  sealed: string;
  hpke_ranges: [number, number][];
  header?: {
    version: number;
    content_type: number;
    message_id: string;
    conversation_id: string;
    sender_user_id: string;
    sender_device_id: string;
    time_ms: number;
  };
  recipients?: string[];
  payload?: string;
}

export interface MessagesFile {
  note: string;
  devices: Record<string, DeviceJSON>;
  vectors: MessageVector[];
}

/** patternPlaintext returns n bytes with byte i = i mod 251. */
export function patternPlaintext(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

/** checkMessage returns the server outcome, the recipient outcome and the payload. */
export async function checkMessage(
  devices: Record<string, DeviceJSON>,
  v: MessageVector,
): Promise<{ server: string; recipient: string; payload?: Uint8Array }> {
  let m;
  try {
    m = parseSealed(fromHex(v.sealed));
  } catch (err) {
    return { server: codeOf(err), recipient: codeOf(err) };
  }
  const sender: DevicePublic = devicePublic(devices[v.sender]);
  try {
    if (!sameRef(headerSender(m.header), sender)) return { server: 'sender_mismatch', recipient: 'sender_mismatch' };
    await verifySignature(m, sender.signingKey);
  } catch (err) {
    return { server: codeOf(err), recipient: codeOf(err) };
  }
  const keys = await deviceKeys(devices[v.recipient]);
  try {
    return { server: 'ok', recipient: 'ok', payload: await open(keys, m, sender) };
  } catch (err) {
    return { server: 'ok', recipient: codeOf(err) };
  }
}

