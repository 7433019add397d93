/// <reference types="node" />
// The RFC 9180 vector of our suite (mode 0, KEM 0x0020, KDF 0x0001, AEAD
// 0x0002) against @hpke/core, sender side included: the test passes ikmE as
// the ephemeral key material, which @hpke/core accepts for testing only.
import { expect, test } from 'vitest';
import { buf, suite } from './crypto';
import { loadVectors } from './testdata.node';
import { fromHex, toHex } from './wire';

interface RFC9180Vector {
  mode: number;
  kem_id: number;
  kdf_id: number;
  aead_id: number;
  info: string;
  ikmE: string;
  ikmR: string;
  skRm: string;
  pkRm: string;
  pkEm: string;
  enc: string;
  encryptions: { aad: string; ct: string; nonce: string; pt: string }[];
  exports: { exporter_context: string; L: number; exported_value: string }[];
}

const { vectors } = loadVectors<{ vectors: RFC9180Vector[] }>('rfc9180.json');

test('rfc9180.json has our suite', () => {
  expect(vectors.length).toBeGreaterThan(0);
  for (const v of vectors) expect([v.mode, v.kem_id, v.kdf_id, v.aead_id]).toEqual([0, 0x20, 1, 2]);
});

for (const v of vectors) {
  test('rfc9180 sender and recipient', async () => {
    const recipientPair = await suite.kem.deriveKeyPair(buf(fromHex(v.ikmR)));
    expect(toHex(new Uint8Array(await suite.kem.serializePublicKey(recipientPair.publicKey)))).toBe(v.pkRm);
    const fromSk = await suite.kem.deserializePrivateKey(buf(fromHex(v.skRm)));
    const info = buf(fromHex(v.info));

    const sender = await suite.createSenderContext({ recipientPublicKey: recipientPair.publicKey, info, ekm: buf(fromHex(v.ikmE)) });
    expect(toHex(new Uint8Array(sender.enc))).toBe(v.enc);
    expect(v.pkEm).toBe(v.enc);
    const recipient = await suite.createRecipientContext({
      recipientKey: { privateKey: fromSk, publicKey: recipientPair.publicKey },
      enc: buf(fromHex(v.enc)),
      info,
    });
    for (const [i, e] of v.encryptions.entries()) {
      const ct = await sender.seal(buf(fromHex(e.pt)), buf(fromHex(e.aad)));
      expect(toHex(new Uint8Array(ct)), `encryption ${i}`).toBe(e.ct);
      const pt = await recipient.open(buf(fromHex(e.ct)), buf(fromHex(e.aad)));
      expect(toHex(new Uint8Array(pt)), `plaintext ${i}`).toBe(e.pt);
    }
    for (const [i, x] of v.exports.entries()) {
      const got = await recipient.export(buf(fromHex(x.exporter_context)), x.L);
      expect(toHex(new Uint8Array(got)), `export ${i}`).toBe(x.exported_value);
      const sent = await sender.export(buf(fromHex(x.exporter_context)), x.L);
      expect(toHex(new Uint8Array(sent)), `sender export ${i}`).toBe(x.exported_value);
    }
  });
}
