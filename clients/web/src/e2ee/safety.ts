// Safety numbers (docs/e2ee.md section 7).
import { sha512 } from './crypto';
import { E2EEError } from './errors';
import { WORD_LIST } from './wordlist';
import { Encoder, LABEL_SAFETY_NUMBER, checkID, compareBytes, signedBytes } from './wire';

export interface SafetyNumber {
  /** 60 decimal digits, 30 per user, the smaller half first. */
  digits: string;
  /** The digits in 12 space-separated groups of 5. */
  digitGroups: string;
  /** 8 words, 4 per user, in the same user order. */
  words: string[];
}

async function fingerprint(userId: string, identityKey: Uint8Array): Promise<Uint8Array> {
  checkID('user id', userId);
  if (identityKey.length !== 32) throw new E2EEError('malformed', `identity key of ${userId} is ${identityKey.length} bytes`);
  return sha512(signedBytes(LABEL_SAFETY_NUMBER, new Encoder().str8(userId).raw(identityKey).bytes()));
}

function digitsOf(fp: Uint8Array): string {
  let s = '';
  for (let i = 0; i < 6; i++) {
    let v = 0;
    for (let j = 0; j < 5; j++) v = v * 256 + fp[5 * i + j];
    s += String(v % 100000).padStart(5, '0');
  }
  return s;
}

/** computeSafetyNumber returns the same value on both sides in either argument order. */
export async function computeSafetyNumber(
  userA: string,
  keyA: Uint8Array,
  userB: string,
  keyB: Uint8Array,
): Promise<SafetyNumber> {
  let first = await fingerprint(userA, keyA);
  let second = await fingerprint(userB, keyB);
  let [d1, d2] = [digitsOf(first), digitsOf(second)];
  if (d2 < d1 || (d2 === d1 && compareBytes(second, first) < 0)) {
    [first, second] = [second, first];
    [d1, d2] = [d2, d1];
  }
  const digits = d1 + d2;
  const words = [...first.subarray(30, 34), ...second.subarray(30, 34)].map((b) => WORD_LIST[b]);
  return { digits, digitGroups: digits.match(/.{5}/g)!.join(' '), words };
}
