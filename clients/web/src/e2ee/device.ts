// Device certificates and signed device lists (docs/e2ee.md section 2).
import { ed25519Verify } from './crypto';
import { E2EEError } from './errors';
import { type DevicePublic, type Identity, validateDevicePublic } from './keys';
import {
  Decoder,
  Encoder,
  LABEL_DEVICE_CERTIFICATE,
  LABEL_DEVICE_LIST,
  MAX_ID_LENGTH,
  VERSION,
  checkID,
  compareStrings,
  concat,
  equalBytes,
  signedBytes,
} from './wire';

export const MAX_DEVICES = 64;
const MAX_CERTIFICATE_SIZE = 1 + 2 * (1 + MAX_ID_LENGTH) + 2 * 32 + 8 + 64;
const MAX_DEVICE_LIST_SIZE = 1 + 1 + MAX_ID_LENGTH + 32 + 8 + 8 + 2 + MAX_DEVICES * (2 + MAX_CERTIFICATE_SIZE) + 64;

const certificateSignedBytes = (body: Uint8Array) => signedBytes(LABEL_DEVICE_CERTIFICATE, body);
const listSignedBytes = (body: Uint8Array) => signedBytes(LABEL_DEVICE_LIST, body);

export interface DeviceCertificate {
  device: DevicePublic;
  createdMs: number;
  body: Uint8Array;
  signature: Uint8Array;
  bytes: Uint8Array;
}

export interface DeviceList {
  userId: string;
  identityKey: Uint8Array;
  version: number;
  issuedMs: number;
  certificates: DeviceCertificate[];
  body: Uint8Array;
  signature: Uint8Array;
  bytes: Uint8Array;
}

/** certify signs a certificate for dev with the identity key. */
export async function certify(identity: Identity, dev: DevicePublic, createdMs: number): Promise<DeviceCertificate> {
  validateDevicePublic(dev);
  const body = new Encoder()
    .u8(VERSION)
    .str8(dev.userId)
    .str8(dev.deviceId)
    .raw(dev.hpkeKey)
    .raw(dev.signingKey)
    .u64(createdMs)
    .bytes();
  const sig = await identity.sign(certificateSignedBytes(body));
  return parseDeviceCertificate(concat(body, sig));
}

/** parseDeviceCertificate checks structure only; call verifyCertificate next. */
export function parseDeviceCertificate(b: Uint8Array): DeviceCertificate {
  if (b.length > MAX_CERTIFICATE_SIZE) throw new E2EEError('malformed', `device certificate of ${b.length} bytes`);
  const d = new Decoder(b);
  const v = d.u8('certificate version');
  if (v !== VERSION) throw new E2EEError('unsupported_version', `device certificate version ${v}`);
  const userId = d.id('certificate user id');
  const deviceId = d.id('certificate device id');
  const hpkeKey = d.read(32, 'certificate HPKE key').slice();
  const signingKey = d.read(32, 'certificate signing key').slice();
  const createdMs = d.u64('certificate time');
  const bodyLength = d.offset;
  const signature = d.read(64, 'certificate signature').slice();
  d.finish('device certificate');
  return {
    device: { userId, deviceId, hpkeKey, signingKey },
    createdMs,
    body: b.slice(0, bodyLength),
    signature,
    bytes: b.slice(),
  };
}

export async function verifyCertificate(cert: DeviceCertificate, identityKey: Uint8Array): Promise<void> {
  const ok = await ed25519Verify(identityKey, certificateSignedBytes(cert.body), cert.signature);
  if (!ok) throw new E2EEError('bad_signature', `device certificate for ${cert.device.userId}/${cert.device.deviceId}`);
}

/** signDeviceList signs version `version` of a user's list; certificates are sorted by device id. */
export async function signDeviceList(
  identity: Identity,
  userId: string,
  version: number,
  issuedMs: number,
  certs: DeviceCertificate[],
): Promise<DeviceList> {
  checkID('user id', userId);
  if (!Number.isSafeInteger(version) || version < 1) throw new E2EEError('invalid_device_list', `version ${version}`);
  if (certs.length === 0 || certs.length > MAX_DEVICES) {
    throw new E2EEError('invalid_device_list', `device list with ${certs.length} devices`);
  }
  const sorted = [...certs].sort((a, b) => compareStrings(a.device.deviceId, b.device.deviceId));
  const e = new Encoder().u8(VERSION).str8(userId).raw(identity.publicKey).u64(version).u64(issuedMs).u16(sorted.length);
  for (const c of sorted) e.u16(c.bytes.length).raw(c.bytes);
  const body = e.bytes();
  const sig = await identity.sign(listSignedBytes(body));
  return parseDeviceList(concat(body, sig));
}

/** parseDeviceList checks structure only; call verifyDeviceList next. */
export function parseDeviceList(b: Uint8Array): DeviceList {
  if (b.length > MAX_DEVICE_LIST_SIZE) throw new E2EEError('malformed', `device list of ${b.length} bytes`);
  const d = new Decoder(b);
  const v = d.u8('device list version');
  if (v !== VERSION) throw new E2EEError('unsupported_version', `device list format version ${v}`);
  const userId = d.id('device list user id');
  const identityKey = d.read(32, 'identity key').slice();
  const version = d.u64('device list version');
  const issuedMs = d.u64('device list time');
  const count = d.u16('device count');
  if (count === 0 || count > MAX_DEVICES) throw new E2EEError('invalid_device_list', `device list with ${count} devices`);
  if (version === 0) throw new E2EEError('invalid_device_list', 'device list version 0');
  const certificates: DeviceCertificate[] = [];
  for (let i = 0; i < count; i++) {
    const n = d.u16('certificate length');
    const c = parseDeviceCertificate(d.read(n, 'certificate'));
    if (c.device.userId !== userId) {
      throw new E2EEError('user_mismatch', `certificate of user ${c.device.userId} in the list of ${userId}`);
    }
    const prev = certificates[certificates.length - 1];
    if (prev && compareStrings(prev.device.deviceId, c.device.deviceId) >= 0) {
      throw new E2EEError('invalid_device_list', `device ${c.device.deviceId} duplicated or out of order`);
    }
    certificates.push(c);
  }
  const bodyLength = d.offset;
  const signature = d.read(64, 'device list signature').slice();
  d.finish('device list');
  return { userId, identityKey, version, issuedMs, certificates, body: b.slice(0, bodyLength), signature, bytes: b.slice() };
}

/** verifyDeviceList checks the list and every certificate against the pinned identity key. */
export async function verifyDeviceList(identityKey: Uint8Array, list: DeviceList): Promise<void> {
  if (identityKey.length !== 32 || !equalBytes(identityKey, list.identityKey)) {
    throw new E2EEError('identity_mismatch', `device list of ${list.userId}`);
  }
  if (!(await ed25519Verify(identityKey, listSignedBytes(list.body), list.signature))) {
    throw new E2EEError('bad_signature', `device list of ${list.userId}`);
  }
  for (const c of list.certificates) await verifyCertificate(c, identityKey);
}

/** checkDeviceListUpdate decides whether next may replace prev, the last accepted list. */
export function checkDeviceListUpdate(prev: DeviceList, next: DeviceList): void {
  if (prev.userId !== next.userId) throw new E2EEError('user_mismatch', `list of ${next.userId} replaces ${prev.userId}`);
  if (!equalBytes(prev.identityKey, next.identityKey)) throw new E2EEError('identity_mismatch', `device list of ${next.userId}`);
  if (next.version < prev.version) {
    throw new E2EEError('stale_device_list', `device list of ${next.userId}: version ${next.version} after ${prev.version}`);
  }
  if (next.version === prev.version && !equalBytes(prev.bytes, next.bytes)) {
    throw new E2EEError('device_list_conflict', `device list of ${next.userId}: version ${next.version}`);
  }
}

/**
 * compareDevices returns the device ids the server reports that the signed
 * list lacks (uncertified: never encrypt to them, warn the user) and the
 * listed ids the server lacks (missing).
 */
export function compareDevices(list: DeviceList, serverDeviceIds: string[]): { uncertified: string[]; missing: string[] } {
  const listed = new Set(list.certificates.map((c) => c.device.deviceId));
  const onServer = new Set(serverDeviceIds);
  const uncertified = [...onServer].filter((id) => !listed.has(id)).sort(compareStrings);
  const missing = list.certificates.map((c) => c.device.deviceId).filter((id) => !onServer.has(id));
  return { uncertified, missing };
}
