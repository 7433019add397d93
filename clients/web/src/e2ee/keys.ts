// Device and identity keys (docs/e2ee.md section 2). Private keys are
// non-extractable CryptoKeys unless a caller imports raw test keys with
// extractable set; a CryptoKey can be stored in IndexedDB as it is.
import { ed25519Sign, generateKeyPair, importEd25519, importX25519 } from './crypto';
import { E2EEError } from './errors';
import { checkID, compareStrings } from './wire';

/** DeviceRef names one device of one user. */
export interface DeviceRef {
  userId: string;
  deviceId: string;
}

export function refString(r: DeviceRef): string {
  return `${r.userId}/${r.deviceId}`;
}

export function sameRef(a: DeviceRef, b: DeviceRef): boolean {
  return a.userId === b.userId && a.deviceId === b.deviceId;
}

/** compareRefs orders by user id, then device id, bytewise. */
export function compareRefs(a: DeviceRef, b: DeviceRef): number {
  return compareStrings(a.userId, b.userId) || compareStrings(a.deviceId, b.deviceId);
}

/** DevicePublic is a device's X25519 key for envelopes and Ed25519 key for signing. */
export interface DevicePublic extends DeviceRef {
  hpkeKey: Uint8Array;
  signingKey: Uint8Array;
}

export function validateDevicePublic(d: DevicePublic): void {
  checkID('user id', d.userId);
  checkID('device id', d.deviceId);
  if (d.hpkeKey.length !== 32) throw new E2EEError('malformed', `device ${refString(d)}: HPKE key is ${d.hpkeKey.length} bytes`);
  if (d.signingKey.length !== 32) throw new E2EEError('malformed', `device ${refString(d)}: signing key is ${d.signingKey.length} bytes`);
}

/** Identity is a user's Ed25519 identity key; it signs certificates and device lists. */
export class Identity {
  private constructor(
    private readonly keys: CryptoKeyPair,
    /** publicKey is the raw 32-byte identity public key. */
    readonly publicKey: Uint8Array,
  ) {}

  /** generate creates an identity whose private key cannot be exported. */
  static async generate(): Promise<Identity> {
    const { pair, publicRaw } = await generateKeyPair('Ed25519');
    return new Identity(pair, publicRaw);
  }

  /** fromSeed imports a 32-byte Ed25519 seed (tests and migration). */
  static async fromSeed(seed: Uint8Array, extractable = false): Promise<Identity> {
    const { pair, publicRaw } = await importEd25519(seed, extractable);
    return new Identity(pair, publicRaw);
  }

  /** fromKeyPair wraps a key pair stored earlier, for example in IndexedDB. */
  static fromKeyPair(keys: CryptoKeyPair, publicKey: Uint8Array): Identity {
    if (publicKey.length !== 32) throw new E2EEError('malformed', `identity public key is ${publicKey.length} bytes`);
    return new Identity(keys, publicKey.slice());
  }

  /** keyPair returns the key pair for storage; a non-extractable private key stays non-extractable. */
  keyPair(): CryptoKeyPair {
    return this.keys;
  }

  sign(message: Uint8Array): Promise<Uint8Array> {
    return ed25519Sign(this.keys.privateKey, message);
  }
}

/** DeviceKeys contains a device's private keys and its public keys. */
export class DeviceKeys {
  private constructor(
    readonly userId: string,
    readonly deviceId: string,
    /** hpke is the X25519 key pair for opening envelopes. */
    readonly hpke: CryptoKeyPair,
    private readonly signing: CryptoKeyPair,
    private readonly pub: DevicePublic,
  ) {}

  /** generate creates a device's keys with non-extractable private keys. */
  static async generate(userId: string, deviceId: string): Promise<DeviceKeys> {
    checkID('user id', userId);
    checkID('device id', deviceId);
    const x = await generateKeyPair('X25519');
    const ed = await generateKeyPair('Ed25519');
    return new DeviceKeys(userId, deviceId, x.pair, ed.pair, {
      userId,
      deviceId,
      hpkeKey: x.publicRaw,
      signingKey: ed.publicRaw,
    });
  }

  /** fromRaw imports a 32-byte X25519 private key and a 32-byte Ed25519 seed. */
  static async fromRaw(
    userId: string,
    deviceId: string,
    hpkePrivate: Uint8Array,
    signingSeed: Uint8Array,
    extractable = false,
  ): Promise<DeviceKeys> {
    checkID('user id', userId);
    checkID('device id', deviceId);
    const x = await importX25519(hpkePrivate, extractable);
    const ed = await importEd25519(signingSeed, extractable);
    return new DeviceKeys(userId, deviceId, x.pair, ed.pair, {
      userId,
      deviceId,
      hpkeKey: x.publicRaw,
      signingKey: ed.publicRaw,
    });
  }

  /** fromKeyPairs wraps key pairs stored earlier, for example in IndexedDB. */
  static fromKeyPairs(
    userId: string,
    deviceId: string,
    hpke: CryptoKeyPair,
    signing: CryptoKeyPair,
    hpkeKey: Uint8Array,
    signingKey: Uint8Array,
  ): DeviceKeys {
    const pub = { userId, deviceId, hpkeKey: hpkeKey.slice(), signingKey: signingKey.slice() };
    validateDevicePublic(pub);
    return new DeviceKeys(userId, deviceId, hpke, signing, pub);
  }

  /** keyPairs returns the key pairs for storage; non-extractable private keys stay non-extractable. */
  keyPairs(): { hpke: CryptoKeyPair; signing: CryptoKeyPair } {
    return { hpke: this.hpke, signing: this.signing };
  }

  ref(): DeviceRef {
    return { userId: this.userId, deviceId: this.deviceId };
  }

  /** public returns the device's public keys (copies). */
  public(): DevicePublic {
    return { ...this.pub, hpkeKey: this.pub.hpkeKey.slice(), signingKey: this.pub.signingKey.slice() };
  }

  sign(message: Uint8Array): Promise<Uint8Array> {
    return ed25519Sign(this.signing.privateKey, message);
  }
}
