// Applies every edit of testdata/e2ee/mutations.json to its base message
// and requires the outcome the Go implementation recorded, so both report
// the same reject code for the same damage.
import { expect, test } from 'vitest';
import { type MessagesFile, checkMessage, loadVectors } from './testdata.node';
import { fromHex, toHex } from './wire';

interface Mutation {
  op: 'flip' | 'truncate' | 'append';
  at?: number;
  bit?: number;
  bytes?: string;
  server_expect: string;
  expect: string;
}

function apply(base: Uint8Array, m: Mutation): Uint8Array {
  const out = base.slice();
  switch (m.op) {
    case 'flip':
      out[m.at ?? 0] ^= 1 << (m.bit ?? 0);
      return out;
    case 'truncate':
      return out.subarray(0, m.at ?? 0);
    case 'append':
      return Uint8Array.from([...out, ...fromHex(m.bytes ?? '')]);
  }
}

test('mutations.json outcomes match Go', async () => {
  const messages = loadVectors<MessagesFile>('messages.json');
  const f = loadVectors<{ base: string; sender: string; recipient: string; mutations: Mutation[] }>('mutations.json');
  const base = fromHex(messages.vectors.find((v) => v.name === f.base)!.sealed);
  expect(f.mutations.length).toBeGreaterThan(1000);
  const mismatches: string[] = [];
  for (const [i, m] of f.mutations.entries()) {
    const got = await checkMessage(messages.devices, {
      name: `mutation ${i}`,
      rule: '',
      description: '',
      sender: f.sender,
      recipient: f.recipient,
      server_expect: m.server_expect,
      expect: m.expect,
      sealed: toHex(apply(base, m)),
      hpke_ranges: [],
    });
    if (got.server !== m.server_expect || got.recipient !== m.expect) {
      mismatches.push(`${i} ${m.op}@${m.at}/${m.bit}: got ${got.server}/${got.recipient}, want ${m.server_expect}/${m.expect}`);
    }
  }
  expect(mismatches).toEqual([]);
}, 60_000);
