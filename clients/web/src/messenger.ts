// End-to-end encrypted messaging for this browser: the device's keys, the
// verified device lists of correspondents, sealing and opening messages,
// and encrypted image attachments. Formats and checks are those of the
// e2ee module (docs/e2ee.md), and the server receives only ciphertext.

import { ApiError, type Api } from './api';
import * as e2ee from './e2ee';
import { deleteDevice, loadDevice, loadPin, saveDevice, savePin, type StoredDevice, type StoredPin } from './keystore';

export function toBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

// sameBytes compares two public values; neither is secret.
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

interface DevicesResponse {
  user_id: string;
  identity_key?: string;
  list_version?: number;
  device_list?: string;
  devices: { user_id: string; device_id: string; created_at: string; revoked_at?: string }[];
}

interface MessageView {
  seq: number;
  message_id: string;
  sender: { user_id: string; device_id: string };
  received_at: string;
  sealed: string;
}

export interface ConversationDetail {
  id: string;
  kind: 'consultation' | 'care';
  subject_id: string;
  last_seq: number;
  members: string[];
}

export interface ChatAttachment {
  id: string;
  name: string;
  mediaType: string;
  size: number;
  url?: string; // object URL once downloaded and decrypted
  error?: string;
}

export interface ChatMessage {
  seq: number;
  id: string;
  senderUserId: string;
  mine: boolean;
  timeMs: number;
  text: string;
  attachments: ChatAttachment[];
  error?: string;
}

// Peer is a correspondent whose device list this browser verified.
export interface Peer {
  userId: string;
  identityKey: Uint8Array;
  devices: e2ee.DevicePublic[];
  uncertified: string[];
  verified: boolean;
  // changed is true when the device list changed since it was last seen.
  changed: boolean;
}

export class DeviceUnavailableError extends Error {}

// IdentityChangedError reports that a correspondent's device list is
// signed by another identity key than the one pinned on first contact:
// either they started over on a new device, or the server substituted
// keys. Messages to them stop until the user compares the new safety
// number and accepts it.
export class IdentityChangedError extends Error {
  constructor(
    readonly userId: string,
    readonly newIdentityKey: Uint8Array,
  ) {
    super('This person’s encryption keys changed. Compare the new safety number before you send anything.');
    this.name = 'IdentityChangedError';
  }
}

// Messenger is this browser's e2ee device for the signed-in user.
export class Messenger {
  private peers = new Map<string, Peer>();

  private constructor(
    private api: Api,
    readonly userId: string,
    readonly keys: e2ee.DeviceKeys,
    readonly identityKey: Uint8Array,
  ) {}

  // open loads this browser's device for userId, creating and registering
  // it on first use. A device that was removed elsewhere is replaced by a
  // new one. A user whose identity key lives on another device cannot add
  // this browser yet (device linking is not built), which raises
  // DeviceUnavailableError.
  static async open(api: Api, userId: string): Promise<Messenger> {
    let stored = await loadDevice(userId);
    if (stored?.registered && (await isRevoked(api, userId, stored.deviceId))) {
      await deleteDevice(userId);
      stored = undefined;
    }
    if (!stored) stored = await createDevice(userId);
    if (!stored.registered) {
      await register(api, stored);
      stored.registered = true;
      await saveDevice(stored);
    }
    api.setDevice(stored.deviceId);
    const keys = e2ee.DeviceKeys.fromKeyPairs(
      stored.userId,
      stored.deviceId,
      stored.hpke,
      stored.signing,
      stored.hpkeKey,
      stored.signingKey,
    );
    const identityKey = stored.identity?.publicKey ?? (await ownIdentityKey(api, userId));
    return new Messenger(api, userId, keys, identityKey);
  }

  // peer fetches and verifies a user's device list. The first identity key
  // seen is pinned. A later list must be signed by the same key and must
  // not be older than the last one accepted.
  async peer(userId: string, refresh = false): Promise<Peer> {
    const cached = this.peers.get(userId);
    if (cached && !refresh) return cached;
    const res = await this.api.get<DevicesResponse>(`/api/v1/users/${encodeURIComponent(userId)}/devices`);
    if (!res.device_list) {
      const none: Peer = { userId, identityKey: new Uint8Array(), devices: [], uncertified: [], verified: false, changed: false };
      this.peers.set(userId, none);
      return none;
    }

    const list = e2ee.parseDeviceList(fromBase64(res.device_list));
    if (list.userId !== userId) throw new Error(`the server returned the device list of another user for ${userId}`);

    const pin = userId === this.userId ? undefined : await loadPin(this.userId, userId);
    const pinnedKey = userId === this.userId ? this.identityKey : (pin?.identityKey ?? list.identityKey);
    if (userId !== this.userId && !sameBytes(pinnedKey, list.identityKey)) {
      throw new IdentityChangedError(userId, list.identityKey);
    }
    await e2ee.verifyDeviceList(pinnedKey, list);
    let changed = false;
    if (pin) {
      const prev = e2ee.parseDeviceList(pin.deviceList);
      e2ee.checkDeviceListUpdate(prev, list);
      changed = prev.version !== list.version;
    }

    if (userId !== this.userId) {
      await savePin(this.userId, userId, {
        identityKey: pinnedKey,
        deviceList: list.bytes,
        verified: (pin?.verified ?? false) && !changed,
        history: changed && pin ? archive(pin, list.issuedMs) : pin?.history,
      });
    }

    const current = res.devices.filter((d) => !d.revoked_at).map((d) => d.device_id);
    const { uncertified } = e2ee.compareDevices(list, current);
    const onServer = new Set(current);
    const p: Peer = {
      userId,
      identityKey: pinnedKey,
      devices: list.certificates.map((c) => c.device).filter((d) => onServer.has(d.deviceId)),
      uncertified,
      verified: (pin?.verified ?? false) && !changed,
      changed,
    };
    this.peers.set(userId, p);
    return p;
  }

  // acceptIdentity pins the identity key that now signs userId's device
  // list, after the user compared the new safety number.
  async acceptIdentity(userId: string): Promise<void> {
    const res = await this.api.get<DevicesResponse>(`/api/v1/users/${encodeURIComponent(userId)}/devices`);
    if (!res.device_list) throw new Error('This person has no device list.');
    const list = e2ee.parseDeviceList(fromBase64(res.device_list));
    await e2ee.verifyDeviceList(list.identityKey, list);
    const pin = await loadPin(this.userId, userId);
    await savePin(this.userId, userId, {
      identityKey: list.identityKey,
      deviceList: list.bytes,
      verified: true,
      history: pin ? archive(pin, list.issuedMs) : [],
    });
    this.peers.delete(userId);
  }

  // safetyNumberWith computes the safety number with a given identity key
  // of userId, such as a changed one that is not trusted yet.
  safetyNumberWith(userId: string, identityKey: Uint8Array): Promise<e2ee.SafetyNumber> {
    return e2ee.computeSafetyNumber(this.userId, this.identityKey, userId, identityKey);
  }

  // senderDevice returns the public keys of the device that sent a
  // message: from the sender's current verified list, or else from a list
  // accepted earlier that the next one replaced after the message's time.
  // That keeps messages readable after their device was removed or the
  // sender's identity key changed.
  //
  // NOTE: the sender chooses the message time, so a removed device whose
  // keys were stolen could backdate a message. The server rejects posts
  // from removed devices, but a compromised server could skip that check.
  async senderDevice(ref: e2ee.DeviceRef, timeMs: number): Promise<e2ee.DevicePublic | undefined> {
    const find = (p: Peer) => p.devices.find((d) => d.deviceId === ref.deviceId);
    try {
      let dev = find(await this.peer(ref.userId));
      if (!dev) dev = find(await this.peer(ref.userId, true));
      if (dev) return dev;
    } catch (err) {
      if (!(err instanceof IdentityChangedError)) throw err;
    }
    if (ref.userId === this.userId) return undefined;
    const pin = await loadPin(this.userId, ref.userId);
    if (!pin) return undefined;
    const lists = [{ list: pin.deviceList, supersededMs: Number.MAX_SAFE_INTEGER }, ...(pin.history ?? [])];
    for (const entry of lists) {
      if (timeMs > entry.supersededMs) continue;
      const list = e2ee.parseDeviceList(entry.list);
      const cert = list.certificates.find((c) => c.device.deviceId === ref.deviceId);
      if (!cert) continue;
      await e2ee.verifyDeviceList(list.identityKey, list);
      return cert.device;
    }
    return undefined;
  }

  async markVerified(userId: string): Promise<void> {
    const p = await this.peer(userId);
    const pin = await loadPin(this.userId, userId);
    if (pin) await savePin(this.userId, userId, { ...pin, verified: true });
    p.verified = true;
  }

  async safetyNumber(userId: string): Promise<e2ee.SafetyNumber> {
    const p = await this.peer(userId);
    if (p.identityKey.length === 0) throw new Error('This person has not opened Bedside’s messages yet, so there is no safety number.');
    return e2ee.computeSafetyNumber(this.userId, this.identityKey, userId, p.identityKey);
  }

  conversation(id: string): Promise<Conversation> {
    return Conversation.open(this, this.api, id);
  }
}

// maxHistory bounds the earlier device lists kept per correspondent.
const maxHistory = 16;

// archive returns pin's history with its current list added as replaced
// at supersededMs.
function archive(pin: StoredPin, supersededMs: number): { list: Uint8Array; supersededMs: number }[] {
  return [{ list: pin.deviceList, supersededMs }, ...(pin.history ?? [])].slice(0, maxHistory);
}

async function createDevice(userId: string): Promise<StoredDevice> {
  const deviceId = `web-${e2ee.toHex(crypto.getRandomValues(new Uint8Array(8)))}`;
  const keys = await e2ee.DeviceKeys.generate(userId, deviceId);
  const identity = await e2ee.Identity.generate();
  const pub = keys.public();
  const pairs = keys.keyPairs();
  const stored: StoredDevice = {
    userId,
    deviceId,
    hpke: pairs.hpke,
    signing: pairs.signing,
    hpkeKey: pub.hpkeKey,
    signingKey: pub.signingKey,
    identity: { keys: identity.keyPair(), publicKey: identity.publicKey },
    registered: false,
  };
  await saveDevice(stored);
  return stored;
}

// register publishes the device with a certificate and version 1 of the
// user's device list, signed by the identity key created with it.
async function register(api: Api, stored: StoredDevice): Promise<void> {
  const existing = await api.get<DevicesResponse>(`/api/v1/users/${encodeURIComponent(stored.userId)}/devices`);
  const others = existing.devices.filter((d) => !d.revoked_at && d.device_id !== stored.deviceId);
  if (others.length > 0) {
    // TODO(web): link a new browser by certifying it on a device that has
    // the identity key. Until then only the first browser can message.
    throw new DeviceUnavailableError(
      'Encrypted messages are set up on another device of yours. Use that device, or remove it on your account ' +
        'page to start over in this browser.',
    );
  }
  if (!stored.identity) throw new DeviceUnavailableError('This browser has no identity key to certify its device.');
  const identity = e2ee.Identity.fromKeyPair(stored.identity.keys, stored.identity.publicKey);
  const pub: e2ee.DevicePublic = {
    userId: stored.userId,
    deviceId: stored.deviceId,
    hpkeKey: stored.hpkeKey,
    signingKey: stored.signingKey,
  };
  const now = Date.now();
  const cert = await e2ee.certify(identity, pub, now);
  const version = (existing.list_version ?? 0) + 1;
  const list = await e2ee.signDeviceList(identity, stored.userId, version, now, [cert]);
  await api.post('/api/v1/devices', { certificate: toBase64(cert.bytes), device_list: toBase64(list.bytes) });
}

export interface OwnDevice {
  deviceId: string;
  createdAt: string;
  thisBrowser: boolean;
}

// ownDevices lists the signed-in user's current messaging devices, marking
// the one this browser holds.
export async function ownDevices(api: Api, userId: string): Promise<OwnDevice[]> {
  const res = await api.get<DevicesResponse>(`/api/v1/users/${encodeURIComponent(userId)}/devices`);
  const mine = await loadDevice(userId);
  return res.devices
    .filter((d) => !d.revoked_at)
    .map((d) => ({ deviceId: d.device_id, createdAt: d.created_at, thisBrowser: d.device_id === mine?.deviceId }));
}

// removeOwnDevice revokes one of the user's devices. When this browser has
// the identity key, it also publishes the next device list without the
// removed device, so correspondents stop encrypting to it.
export async function removeOwnDevice(api: Api, userId: string, deviceId: string): Promise<void> {
  await api.delete(`/api/v1/devices/${encodeURIComponent(deviceId)}`);
  const stored = await loadDevice(userId);
  if (stored?.deviceId === deviceId) {
    await deleteDevice(userId);
    return;
  }
  if (!stored?.identity || !stored.registered) return;
  const res = await api.get<DevicesResponse>(`/api/v1/users/${encodeURIComponent(userId)}/devices`);
  if (!res.device_list) return;
  const current = new Set(res.devices.filter((d) => !d.revoked_at).map((d) => d.device_id));
  const list = e2ee.parseDeviceList(fromBase64(res.device_list));
  const keep = list.certificates.filter((c) => current.has(c.device.deviceId));
  if (keep.length === list.certificates.length || keep.length === 0) return;
  const identity = e2ee.Identity.fromKeyPair(stored.identity.keys, stored.identity.publicKey);
  const next = await e2ee.signDeviceList(identity, userId, list.version + 1, Date.now(), keep);
  await api.put('/api/v1/device-list', { device_list: toBase64(next.bytes) });
}

// isRevoked reports whether the server lists deviceId as revoked or not at
// all, for example after the user removed it from another browser.
async function isRevoked(api: Api, userId: string, deviceId: string): Promise<boolean> {
  const res = await api.get<DevicesResponse>(`/api/v1/users/${encodeURIComponent(userId)}/devices`);
  const d = res.devices.find((x) => x.device_id === deviceId);
  return !d || Boolean(d.revoked_at);
}

async function ownIdentityKey(api: Api, userId: string): Promise<Uint8Array> {
  const res = await api.get<DevicesResponse>(`/api/v1/users/${encodeURIComponent(userId)}/devices`);
  if (!res.identity_key) throw new DeviceUnavailableError('Your device list is missing on the server.');
  return fromBase64(res.identity_key);
}

// Conversation is one conversation as this device reads and writes it.
export class Conversation {
  private cursor = 0;
  private guard = new e2ee.ReplayGuard();
  private urls: string[] = [];

  private constructor(
    private m: Messenger,
    private api: Api,
    readonly detail: ConversationDetail,
  ) {}

  static async open(m: Messenger, api: Api, id: string): Promise<Conversation> {
    const detail = await api.get<ConversationDetail>(`/api/v1/conversations/${encodeURIComponent(id)}`);
    return new Conversation(m, api, detail);
  }

  get id(): string {
    return this.detail.id;
  }

  // others returns the members other than the signed-in user.
  others(): string[] {
    return this.detail.members.filter((u) => u !== this.m.userId);
  }

  // fetchNew downloads and opens every message after the last one seen.
  // A message that fails a check is returned with its error, not dropped.
  async fetchNew(): Promise<ChatMessage[]> {
    const out: ChatMessage[] = [];
    for (let page = 0; page < 100; page++) {
      const q = new URLSearchParams({ after: String(this.cursor) });
      const res = await this.api.get<{ messages: MessageView[]; next_cursor: number; has_more: boolean }>(
        `/api/v1/conversations/${encodeURIComponent(this.id)}/messages?${q}`,
      );
      for (const v of res.messages) out.push(await this.openOne(v));
      if (res.next_cursor > this.cursor) this.cursor = res.next_cursor;
      if (!res.has_more) break;
    }
    if (out.length > 0) {
      const last = out[out.length - 1].seq;
      void this.api.post(`/api/v1/conversations/${encodeURIComponent(this.id)}/delivered`, { seq: last }).catch(() => {});
    }
    return out;
  }

  private async openOne(v: MessageView): Promise<ChatMessage> {
    const base: ChatMessage = {
      seq: v.seq,
      id: v.message_id,
      senderUserId: v.sender.user_id,
      mine: v.sender.user_id === this.m.userId,
      timeMs: Date.parse(v.received_at),
      text: '',
      attachments: [],
    };
    try {
      const sealed = e2ee.parseSealed(fromBase64(v.sealed));
      const senderRef = e2ee.headerSender(sealed.header);
      if (senderRef.userId !== v.sender.user_id || senderRef.deviceId !== v.sender.device_id) {
        throw new Error('the server’s sender does not match the signed header');
      }
      const sender = await this.m.senderDevice(senderRef, sealed.header.timeMs);
      if (!sender) throw new Error('the sending device is not in the sender’s signed device list');
      const plain = await e2ee.open(this.m.keys, sealed, sender);
      this.guard.accept(sealed.header.messageId, sealed.header.timeMs);
      const payload = e2ee.parsePayload(plain);
      base.timeMs = sealed.header.timeMs;
      base.text = payload.text;
      base.attachments = payload.attachments.map((a) => ({ id: a.id, name: a.name, mediaType: a.mediaType, size: a.size }));
      this.refs.set(v.message_id, payload.attachments);
    } catch (err) {
      base.error = `This message could not be decrypted or verified (${err instanceof Error ? err.message : String(err)}).`;
    }
    return base;
  }

  private refs = new Map<string, e2ee.AttachmentRef[]>();
  private readSeq = 0;

  // markRead raises the user's read marker to seq, which the other members
  // see. Failures are ignored: the marker is advisory.
  markRead(seq: number): void {
    if (seq <= this.readSeq) return;
    this.readSeq = seq;
    void this.api.post(`/api/v1/conversations/${encodeURIComponent(this.id)}/read`, { seq }).catch(() => {});
  }

  // downloadAttachment fetches, decrypts and checks one attachment of a
  // message and returns an object URL for it.
  async downloadAttachment(messageId: string, attachmentId: string): Promise<string> {
    const ref = this.refs.get(messageId)?.find((a) => a.id === attachmentId);
    if (!ref) throw new Error('unknown attachment');
    const cipher = await this.api.bytes(`/api/v1/attachments/${encodeURIComponent(ref.id)}`);
    const plain = await e2ee.readAll(e2ee.streamOf(cipher).pipeThrough(e2ee.createDecryptStream(ref.key, ref.digest)));
    if (plain.length !== ref.size) {
      throw new Error(`invalid attachment: ${plain.length} bytes decrypted, the message states ${ref.size}`);
    }
    const url = URL.createObjectURL(new Blob([plain as BlobPart], { type: safeImageType(ref.mediaType) }));
    this.urls.push(url);
    return url;
  }

  async sendText(text: string): Promise<void> {
    await this.send({ text, attachments: [] });
  }

  // sendImage encrypts a file with a fresh key, uploads the ciphertext in
  // chunks and sends a message carrying the key and digest.
  async sendImage(file: File, caption = ''): Promise<void> {
    const plain = new Uint8Array(await file.arrayBuffer());
    const key = e2ee.newAttachmentKey();
    const { stream, result } = e2ee.createEncryptStream(key);
    const cipher = await e2ee.readAll(e2ee.streamOf(plain).pipeThrough(stream));
    const { digest } = await result;
    const upload = await this.api.post<{ id: string; max_chunk_bytes: number }>('/api/v1/attachments', {
      conversation_id: this.id,
      size: cipher.length,
    });
    const chunk = Math.max(1, upload.max_chunk_bytes || 1 << 20);
    for (let off = 0; off < cipher.length; off += chunk) {
      await this.api.requestRaw(
        'PUT',
        `/api/v1/attachments/${encodeURIComponent(upload.id)}/chunks?offset=${off}`,
        cipher.subarray(off, off + chunk) as BlobPart as BodyInit,
        'application/octet-stream',
      );
    }
    await this.api.post(`/api/v1/attachments/${encodeURIComponent(upload.id)}/complete`);
    await this.send({
      text: caption,
      attachments: [
        { id: upload.id, name: file.name || 'photo', mediaType: file.type || 'application/octet-stream', size: plain.length, key, digest },
      ],
    });
  }

  // send seals the payload for every current device of every member and
  // retries once with fresh device lists when the server reports that the
  // set of devices changed.
  private async send(payload: e2ee.Payload): Promise<void> {
    const body = e2ee.marshalPayload(payload);
    for (let attempt = 0; ; attempt++) {
      const recipients = await this.recipients(attempt > 0);
      const sealed = await e2ee.seal(
        this.m.keys,
        { conversationId: this.id, contentType: e2ee.CONTENT_MESSAGE, timeMs: Date.now(), payload: body },
        recipients,
      );
      try {
        await this.api.requestRaw(
          'POST',
          `/api/v1/conversations/${encodeURIComponent(this.id)}/messages`,
          e2ee.marshalSealed(sealed) as BlobPart as BodyInit,
          'application/octet-stream',
        );
        return;
      } catch (err) {
        if (attempt === 0 && err instanceof ApiError && err.code === 'stale_devices') continue;
        throw err;
      }
    }
  }

  private async recipients(refresh: boolean): Promise<e2ee.DevicePublic[]> {
    const members = [...new Set([...this.detail.members, this.m.userId])];
    const out: e2ee.DevicePublic[] = [];
    for (const u of members) {
      const p = await this.m.peer(u, refresh);
      out.push(...p.devices);
    }
    if (!out.some((d) => d.userId === this.m.userId && d.deviceId === this.m.keys.deviceId)) {
      out.push(this.m.keys.public());
    }
    return out;
  }

  close(): void {
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls = [];
  }
}

// safeImageType returns the media type for an object URL: the image types
// browsers render safely, and octet-stream for anything else, so a file
// claiming text/html is never rendered as a page.
export function safeImageType(mediaType: string): string {
  const allowed = ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp'];
  return allowed.includes(mediaType.toLowerCase()) ? mediaType.toLowerCase() : 'application/octet-stream';
}
