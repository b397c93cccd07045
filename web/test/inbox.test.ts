// share.json groups inbox_key, inbox_drop and drop_record (crypto.md
// §13.6, §13.9): opening Go's sealed drops, sealing our own, drop records
// and their adoption.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { h, eqHex, flip, loadVectors, recordOf, rejectsWith } from './helpers.ts';
import { hkdfLabel } from '../src/crypto/envelope.ts';
import { BadNameError, BadRecordError, BadSignatureError, CofferCryptoError, DecryptError } from '../src/crypto/errors.ts';
import { LABEL_INBOX_KEY_WRAP } from '../src/crypto/labels.ts';
import {
  inboxKeyFromSeed,
  isSealedInboxDropSize,
  newDropRecord,
  newInboxKey,
  openInboxDrop,
  openInboxKey,
  sealInboxDrop,
  sealInboxKey,
} from '../src/crypto/inbox.ts';
import { isDrop, marshalNodeRecord, signNodeRecord, validateNodeRecord, verifyNodeRecord } from '../src/crypto/record.ts';
import { nameHash, sealName } from '../src/crypto/names.ts';
import { NodeKeys, newID, newNodeKey, wrapNodeKey } from '../src/crypto/tree.ts';
import { ed25519PublicKey } from '../src/crypto/ed25519.ts';

const S = loadVectors('share');
const refOf = (c: any) => ({ volume: h(c.volume_hex), parent: h(c.parent_hex), node: h(c.node_hex) });

describe('share.json inbox_key', () => {
  for (const c of S.inbox_key.cases) {
    it('key pair from the seed, sub-key, sealed seed byte for byte, opens', async () => {
      const folderKey = h(c.folder_node_key_hex);
      eqHex(await hkdfLabel(folderKey, LABEL_INBOX_KEY_WRAP), c.inbox_key_wrap_hex);
      const ik = await inboxKeyFromSeed(h(c.inbox_seed_hex));
      eqHex(ik.publicKey, c.inbox_public_hex);
      const folder = await NodeKeys.derive(folderKey);
      eqHex(await sealInboxKey(folder, h(c.volume_hex), h(c.node_hex), ik, h(c.nonce_hex)), c.sealed_hex);
      const opened = await openInboxKey(folder, h(c.volume_hex), h(c.node_hex), h(c.inbox_public_hex), h(c.sealed_hex));
      eqHex(opened.seed, c.inbox_seed_hex);
    });
  }
  for (const c of S.inbox_key.must_fail) {
    it(`must fail: ${c.why}`, async () => {
      const folder = await NodeKeys.derive(h(c.folder_node_key_hex));
      await rejectsWith(openInboxKey(folder, h(c.volume_hex), h(c.node_hex), h(c.inbox_public_hex), h(c.sealed_hex)), DecryptError, c.why);
    });
  }
});

describe('share.json inbox_drop', () => {
  for (const c of S.inbox_drop.cases) {
    it(`opens Go's drop of ${JSON.stringify(c.name)}`, async () => {
      const ik = await inboxKeyFromSeed(h(c.inbox_seed_hex));
      eqHex(ik.publicKey, c.inbox_public_hex);
      const { nodeKey, name } = await openInboxDrop(ik, refOf(c), h(c.sealed_hex));
      eqHex(nodeKey, c.node_key_hex);
      assert.equal(name, c.name);
      assert.ok(isSealedInboxDropSize(h(c.sealed_hex).length));
    });
    it(`seals a drop of ${JSON.stringify(c.name_typed)} that opens to the same key and NFC name`, async () => {
      const ik = await inboxKeyFromSeed(h(c.inbox_seed_hex));
      const sealed = await sealInboxDrop(h(c.inbox_public_hex), refOf(c), h(c.node_key_hex), c.name_typed);
      assert.equal(sealed.length, h(c.sealed_hex).length);
      const { nodeKey, name } = await openInboxDrop(ik, refOf(c), sealed);
      eqHex(nodeKey, c.node_key_hex);
      assert.equal(name, c.name);
    });
  }
  for (const c of S.inbox_drop.must_fail) {
    it(`must fail: ${c.why}`, async () => {
      const ik = await inboxKeyFromSeed(h(c.inbox_seed_hex));
      await rejectsWith(openInboxDrop(ik, refOf(c), h(c.sealed_hex)), DecryptError, c.why);
    });
  }
  it('sealing refuses bad names, a zero key and a wrong-size public key', async () => {
    const c = S.inbox_drop.cases[0];
    await assert.rejects(sealInboxDrop(h(c.inbox_public_hex), refOf(c), h(c.node_key_hex), 'a/b'), BadNameError);
    await assert.rejects(sealInboxDrop(h(c.inbox_public_hex), refOf(c), h(c.node_key_hex), '..'), BadNameError);
    await assert.rejects(sealInboxDrop(h(c.inbox_public_hex), refOf(c), new Uint8Array(32), 'x'), CofferCryptoError);
    await assert.rejects(sealInboxDrop(h(c.inbox_public_hex).subarray(1), refOf(c), h(c.node_key_hex), 'x'), CofferCryptoError);
  });
  it('drop sizes grow by 32-byte buckets: 1202 .. 1458', async () => {
    const ik = await newInboxKey();
    const ref = { volume: newID(), parent: newID(), node: newID() };
    for (const [name, size] of [['a', 1202], ['x'.repeat(30), 1202], ['x'.repeat(31), 1234], ['x'.repeat(255), 1458]] as const) {
      const sealed = await sealInboxDrop(ik.publicKey, ref, newNodeKey(), name);
      assert.equal(sealed.length, size, name.length + ' bytes');
      assert.equal((await openInboxDrop(ik, ref, sealed)).name, name);
      await rejectsWith(openInboxDrop(ik, { ...ref, node: newID() }, sealed), DecryptError);
      await rejectsWith(openInboxDrop(ik, ref, flip(sealed, 1200)), DecryptError);
    }
  });
});

describe('share.json drop_record', () => {
  for (const [i, c] of S.drop_record.cases.entries()) {
    it(`case ${i} (${c.author}): encodes, signs, verifies; is_drop = ${c.is_drop}`, () => {
      const r = recordOf(c);
      assert.equal(isDrop(r), c.is_drop);
      eqHex(marshalNodeRecord(r), c.marshaled_hex);
      eqHex(ed25519PublicKey(h(c.signer_identity_seed_hex)), c.author_public_hex);
      eqHex(signNodeRecord(r, h(c.signer_identity_seed_hex)), c.signature_hex);
      verifyNodeRecord(r, h(c.author_public_hex), h(c.signature_hex));
    });
    if (c.adoption) {
      it(`case ${i}: the adoption reproduces byte for byte from the drop it adopts`, async () => {
        const a = c.adoption;
        const drop = S.drop_record.cases[0];
        const ik = await inboxKeyFromSeed(h(S.inbox_drop.cases[0].inbox_seed_hex));
        const opened = await openInboxDrop(ik, refOf(drop), h(drop.sealed_key_hex));
        eqHex(opened.nodeKey, a.node_key_hex);
        assert.equal(opened.name, a.name);
        const folder = await NodeKeys.derive(h(a.parent_node_key_hex));
        eqHex(await wrapNodeKey(folder, refOf(c), opened.nodeKey, h(a.key_nonce_hex)), c.sealed_key_hex);
        eqHex(await sealName(folder, refOf(c), opened.name, h(a.name_nonce_hex)), c.sealed_name_hex);
        eqHex(nameHash(folder, opened.name), c.name_hash_hex);
        assert.equal(BigInt(c.version), BigInt(drop.version) + 1n);
      });
    }
  }
  for (const c of S.drop_record.must_fail) {
    it(`must fail: ${c.why}`, () => {
      assert.throws(() => verifyNodeRecord(recordOf(c), h(c.author_public_hex), h(c.signature_hex)), BadSignatureError);
      if (c.why.startsWith('validly signed')) assert.throws(() => validateNodeRecord(recordOf(c)), BadRecordError);
    });
  }
  it('newDropRecord makes a valid drop with a random name hash', async () => {
    const ik = await newInboxKey();
    const ref = { volume: newID(), parent: newID(), node: newID() };
    const sealedDrop = await sealInboxDrop(ik.publicKey, ref, newNodeKey(), 'scan.pdf');
    const r = newDropRecord({ ...ref, sealedDrop, author: 'link:AAAAAAAAAAAAAAAAAAAAAA', revision: newID(), revisionDigest: new Uint8Array(32).fill(1) });
    validateNodeRecord(r);
    assert.ok(isDrop(r));
    const r2 = newDropRecord({ ...ref, sealedDrop, author: 'x' });
    validateNodeRecord(r2);
    assert.notDeepEqual(r.nameHash, r2.nameHash);
  });
});
