// IndexedDB storage for this browser's end-to-end encryption state: the
// device's key pairs (and the identity key pair on the user's first
// device), and the identity keys pinned for other users on first contact.
// CryptoKey objects are stored as they are: IndexedDB keeps them by
// structured clone, and their private halves stay non-extractable.
// Decrypted messages are never stored.

const dbName = 'bedside-e2ee';
const dbVersion = 1;
const devicesStore = 'devices';
const pinsStore = 'pins';

export interface StoredDevice {
  userId: string;
  deviceId: string;
  hpke: CryptoKeyPair;
  signing: CryptoKeyPair;
  hpkeKey: Uint8Array;
  signingKey: Uint8Array;
  identity?: { keys: CryptoKeyPair; publicKey: Uint8Array };
  registered: boolean;
}

// StoredPin is trust on first use: the identity key first seen for a user,
// the last device list accepted for that user, and whether the safety
// number was compared.
export interface StoredPin {
  key: string; // "<my user id>/<their user id>"
  identityKey: Uint8Array;
  deviceList: Uint8Array;
  verified: boolean;
  // history contains earlier accepted device lists, newest first, with the
  // time (ms) the next list replaced each, so messages that removed devices
  // sent before can still be verified.
  history?: { list: Uint8Array; supersededMs: number }[];
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

let dbPromise: Promise<IDBDatabase> | null = null;

function open(): Promise<IDBDatabase> {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(dbName, dbVersion);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains(devicesStore)) db.createObjectStore(devicesStore, { keyPath: 'userId' });
        if (!db.objectStoreNames.contains(pinsStore)) db.createObjectStore(pinsStore, { keyPath: 'key' });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => {
        dbPromise = null;
        reject(
          new Error(
            'This browser does not allow storing encryption keys (IndexedDB is unavailable, for example in a private window). ' +
              'Use a normal window to send and read messages.',
          ),
        );
      };
    });
  }
  return dbPromise;
}

async function get<T>(store: string, key: string): Promise<T | undefined> {
  const db = await open();
  return request(db.transaction(store, 'readonly').objectStore(store).get(key)) as Promise<T | undefined>;
}

async function put(store: string, value: unknown): Promise<void> {
  const db = await open();
  const tx = db.transaction(store, 'readwrite');
  tx.objectStore(store).put(value);
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB write failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB write aborted'));
  });
}

export function loadDevice(userId: string): Promise<StoredDevice | undefined> {
  return get<StoredDevice>(devicesStore, userId);
}

export function saveDevice(d: StoredDevice): Promise<void> {
  return put(devicesStore, d);
}

// deleteDevice removes this browser's stored device for userId, for
// example after the user revoked it.
export async function deleteDevice(userId: string): Promise<void> {
  const db = await open();
  const tx = db.transaction(devicesStore, 'readwrite');
  tx.objectStore(devicesStore).delete(userId);
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB delete failed'));
  });
}

export function loadPin(myUserId: string, theirUserId: string): Promise<StoredPin | undefined> {
  return get<StoredPin>(pinsStore, `${myUserId}/${theirUserId}`);
}

export function savePin(myUserId: string, theirUserId: string, pin: Omit<StoredPin, 'key'>): Promise<void> {
  return put(pinsStore, { ...pin, key: `${myUserId}/${theirUserId}` });
}
