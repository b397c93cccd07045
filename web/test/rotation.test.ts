// rotation.json: key history sub-key, sealed key histories, revision
// content keys under a rotated file's history, and version 0x02 node
// records (crypto.md §11.6, §12.1, §13.11).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { h, eqHex, loadVectors, recordOf, rejectsWith } from './helpers.ts';
import { hkdfLabel } from '../src/crypto/envelope.ts';
import { CofferCryptoError, BadRecordError, BadSignatureError, DecryptError } from '../src/crypto/errors.ts';
import { LABEL_KEY_HISTORY_WRAP } from '../src/crypto/labels.ts';
import { marshalNodeRecord, signNodeRecord, validateNodeRecord, verifyNodeRecord } from '../src/crypto/record.ts';
import { NodeKeys, openKeyHistory, sealKeyHistory } from '../src/crypto/tree.ts';
import { openContentKey, openContentKeyWithHistory } from '../src/crypto/content.ts';

const R = loadVectors('rotation');

describe('rotation.json key_history_wrap', () => {
  for (const [i, c] of R.key_history_wrap.entries()) {
    it(`sub-key ${i}`, async () => {
      eqHex(await hkdfLabel(h(c.node_key_hex), LABEL_KEY_HISTORY_WRAP), c.key_history_wrap_hex);
    });
  }
});

describe('rotation.json key_history', () => {
  for (const c of R.key_history.cases) {
    it(`${c.why}: seals byte for byte and opens`, async () => {
      const cur = await NodeKeys.derive(h(c.current_node_key_hex));
      const prev = c.previous_keys_hex.map(h);
      eqHex(await sealKeyHistory(cur, h(c.volume_hex), h(c.node_hex), prev, h(c.nonce_hex)), c.sealed_hex);
      const got = await openKeyHistory(cur, h(c.volume_hex), h(c.node_hex), h(c.sealed_hex));
      assert.deepEqual(got.map((k) => Buffer.from(k).toString('hex')), c.previous_keys_hex);
    });
  }
  for (const c of R.key_history.must_fail) {
    it(`must fail: ${c.why}`, async () => {
      const cur = await NodeKeys.derive(h(c.current_node_key_hex));
      await rejectsWith(openKeyHistory(cur, h(c.volume_hex), h(c.node_hex), h(c.sealed_hex)), DecryptError, c.why);
    });
  }
  it('sealing refuses an empty list, 65 keys, a zero key, a repeated key and the current key', async () => {
    const c = R.key_history.cases[0];
    const curKey = h(c.current_node_key_hex);
    const cur = await NodeKeys.derive(curKey);
    const v = h(c.volume_hex), n = h(c.node_hex);
    const k = (i: number) => new Uint8Array(32).fill(i);
    await assert.rejects(sealKeyHistory(cur, v, n, []), CofferCryptoError);
    await assert.rejects(sealKeyHistory(cur, v, n, Array.from({ length: 65 }, (_, i) => k(i + 1))), CofferCryptoError);
    await assert.rejects(sealKeyHistory(cur, v, n, [k(0)]), CofferCryptoError);
    await assert.rejects(sealKeyHistory(cur, v, n, [k(1), k(1)]), CofferCryptoError);
    await assert.rejects(sealKeyHistory(cur, v, n, [k(1), curKey]), /current key/);
    const sealed = await sealKeyHistory(cur, v, n, Array.from({ length: 64 }, (_, i) => k(i + 1)));
    assert.equal(sealed.length, 62 + 32 * 63);
    assert.equal((await openKeyHistory(cur, v, n, sealed)).length, 64);
  });
});

describe('rotation.json revision_content_key', () => {
  for (const c of R.revision_content_key.cases) {
    it(`${c.why}`, async () => {
      const cur = await NodeKeys.derive(h(c.current_node_key_hex));
      const got = await openContentKeyWithHistory(cur, h(c.volume_hex), h(c.node_hex), h(c.revision_hex), h(c.sealed_content_key_hex), h(c.key_history_hex));
      eqHex(got.contentKey, c.content_key_hex);
      assert.equal(got.openedWith, Number(c.opened_with));
    });
  }
  for (const c of R.revision_content_key.must_fail) {
    it(`must fail: ${c.why}`, async () => {
      const nk = await NodeKeys.derive(h(c.node_key_hex));
      await rejectsWith(openContentKey(nk, h(c.volume_hex), h(c.node_hex), h(c.revision_hex), h(c.sealed_content_key_hex)), DecryptError, c.why);
      await rejectsWith(openContentKeyWithHistory(nk, h(c.volume_hex), h(c.node_hex), h(c.revision_hex), h(c.sealed_content_key_hex)), DecryptError, c.why);
    });
  }
});

describe('rotation.json node_record (version 0x02)', () => {
  for (const c of R.node_record.cases) {
    it('encodes with 0x02 byte for byte, signs, verifies', () => {
      const r = recordOf(c);
      eqHex(marshalNodeRecord(r), c.marshaled_hex);
      eqHex(signNodeRecord(r, h(c.signer_identity_seed_hex)), c.signature_hex);
      verifyNodeRecord(r, h(c.author_public_hex), h(c.signature_hex));
    });
  }
  for (const c of R.node_record.must_fail) {
    it(`must fail: ${c.why}`, () => {
      assert.throws(() => verifyNodeRecord(recordOf(c), h(c.author_public_hex), h(c.signature_hex)), BadSignatureError);
      if (c.why.startsWith('validly signed')) assert.throws(() => validateNodeRecord(recordOf(c)), BadRecordError);
    });
  }
});
