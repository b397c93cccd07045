// tree.json: node keys, wrapped child keys, root keys, names, name hashes
// and node records (crypto.md §11).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { h, eqHex, flip, loadVectors, recordOf, rejectsWith } from './helpers.ts';
import { fromHex, toHex, utf8 } from '../src/crypto/bytes.ts';
import { hkdfLabel } from '../src/crypto/envelope.ts';
import { BadNameError, BadRecordError, BadSignatureError, DecryptError } from '../src/crypto/errors.ts';
import { xwingKeyPair } from '../src/crypto/hpke.ts';
import { LABEL_CONTENT_KEY_WRAP, LABEL_NAME_HASH_KEY, LABEL_NAME_KEY, LABEL_NODE_KEY_WRAP } from '../src/crypto/labels.ts';
import { nameHash, normalizeName, openName, sealName } from '../src/crypto/names.ts';
import {
  encodeNodeRecord,
  marshalNodeRecord,
  nodeRecordFromWire,
  nodeRecordToWire,
  openRecordName,
  signNodeRecord,
  validateNodeRecord,
  verifyNodeRecord,
} from '../src/crypto/record.ts';
import { NodeKeys, openRootKey, sealRootKey, unwrapNodeKey, wrapNodeKey } from '../src/crypto/tree.ts';
import { ed25519PublicKey } from '../src/crypto/ed25519.ts';

const T = loadVectors('tree');

const refOf = (c: any) => ({ volume: h(c.volume_hex), parent: h(c.parent_hex), node: h(c.node_hex) });

describe('tree.json node_keys', () => {
  for (const [i, c] of T.node_keys.entries()) {
    it(`sub-keys of node key ${i}`, async () => {
      const k = h(c.node_key_hex);
      eqHex(await hkdfLabel(k, LABEL_NODE_KEY_WRAP), c.node_key_wrap_hex);
      eqHex(await hkdfLabel(k, LABEL_NAME_KEY), c.name_key_hex);
      eqHex(await hkdfLabel(k, LABEL_NAME_HASH_KEY), c.name_hash_key_hex);
      eqHex(await hkdfLabel(k, LABEL_CONTENT_KEY_WRAP), c.content_key_wrap_hex);
      const nk = await NodeKeys.derive(k);
      eqHex(nk.nameHashKey, c.name_hash_key_hex);
      assert.ok(await nk.isDerivedFrom(k));
    });
  }
});

describe('tree.json wrapped_node_key', () => {
  for (const [i, c] of T.wrapped_node_key.cases.entries()) {
    it(`case ${i}: wraps with the given nonce, byte for byte, and unwraps`, async () => {
      const parent = await NodeKeys.derive(h(c.parent_node_key_hex));
      const sealed = await wrapNodeKey(parent, refOf(c), h(c.child_node_key_hex), h(c.nonce_hex));
      eqHex(sealed, c.sealed_hex);
      eqHex(await unwrapNodeKey(parent, refOf(c), h(c.sealed_hex)), c.child_node_key_hex);
      assert.equal(toHex(utf8('coffer/v1/node-key')) + '00', c.ad_hex.slice(0, 38));
    });
  }
  for (const c of T.wrapped_node_key.must_fail) {
    it(`must fail: ${c.why}`, async () => {
      const parent = await NodeKeys.derive(h(c.parent_node_key_hex));
      await rejectsWith(unwrapNodeKey(parent, refOf(c), h(c.sealed_hex)), DecryptError, c.why);
    });
  }
});

describe('tree.json root_key', () => {
  const c = T.root_key.cases[0];
  it('X-Wing key pair from the seed matches Go (public key)', async () => {
    const kp = await xwingKeyPair(h(c.encryption_seed_hex));
    eqHex(kp.publicKey, c.encryption_public_hex);
  });
  it('opens the Go-sealed root key', async () => {
    const kp = await xwingKeyPair(h(c.encryption_seed_hex));
    eqHex(await openRootKey(kp, h(c.volume_hex), h(c.node_hex), h(c.sealed_hex)), c.node_key_hex);
  });
  it('seals a root key that opens, 1169 bytes', async () => {
    const kp = await xwingKeyPair(h(c.encryption_seed_hex));
    const sealed = await sealRootKey(kp.publicKey, h(c.volume_hex), h(c.node_hex), h(c.node_key_hex));
    assert.equal(sealed.length, 1169);
    eqHex(await openRootKey(kp, h(c.volume_hex), h(c.node_hex), sealed), c.node_key_hex);
    await rejectsWith(openRootKey(kp, h(c.node_hex), h(c.node_hex), sealed), DecryptError);
  });
  for (const m of T.root_key.must_fail) {
    it(`must fail: ${m.why}`, async () => {
      const kp = await xwingKeyPair(h(m.encryption_seed_hex));
      await rejectsWith(openRootKey(kp, h(m.volume_hex), h(m.node_hex), h(m.sealed_hex)), DecryptError, m.why);
    });
  }
});

describe('tree.json name_normalization', () => {
  for (const c of T.name_normalization.cases) {
    it(`normalizes: ${c.why}`, () => {
      assert.equal(toHex(utf8(normalizeName(h(c.name_hex)))), c.nfc_hex);
      assert.equal(toHex(utf8(normalizeName(c.name))), c.nfc_hex);
    });
  }
  for (const c of T.name_normalization.must_fail) {
    it(`refuses: ${c.why}`, () => {
      assert.throws(() => normalizeName(h(c.name_hex)), BadNameError);
    });
  }
  it('refuses a lone surrogate in a string, names the byte offset, never the name', () => {
    assert.throws(() => normalizeName('ab\ud800'), /not valid UTF-8 \(byte 2\)/);
    assert.throws(() => normalizeName('secret\tname'), (e: Error) => e instanceof BadNameError && /U\+0009 \(byte 6\)/.test(e.message) && !e.message.includes('secret'));
    assert.throws(() => normalizeName('é/x'), /contains '\/' \(byte 2\)/);
  });
});

describe('tree.json sealed_name', () => {
  for (const [i, c] of T.sealed_name.cases.entries()) {
    it(`case ${i}: seals with the given nonce, byte for byte, and opens`, async () => {
      const parent = await NodeKeys.derive(h(c.parent_node_key_hex));
      eqHex(await sealName(parent, refOf(c), c.name, h(c.nonce_hex)), c.sealed_hex);
      const name = await openName(parent, refOf(c), h(c.sealed_hex));
      assert.equal(toHex(utf8(name)), c.nfc_hex);
    });
  }
  for (const c of T.sealed_name.must_fail) {
    it(`must fail: ${c.why}`, async () => {
      const parent = await NodeKeys.derive(h(c.parent_node_key_hex));
      const want = c.why.startsWith('validly sealed') && c.why !== 'validly sealed, empty plaintext' ? BadNameError : undefined;
      await assert.rejects(openName(parent, refOf(c), h(c.sealed_hex)), (e: unknown) => {
        assert.ok(e instanceof DecryptError || e instanceof BadNameError, String(e));
        if (want) assert.ok(e instanceof want, `${c.why}: ${e}`);
        return true;
      });
    });
  }
});

describe('tree.json name_hash', () => {
  for (const c of T.name_hash) {
    it(`hash of ${JSON.stringify(c.name)}`, async () => {
      const parent = await NodeKeys.derive(h(c.parent_node_key_hex));
      eqHex(parent.nameHashKey, c.name_hash_key_hex);
      eqHex(nameHash(parent, c.name), c.name_hash_hex);
      // Decomposed spellings hash alike.
      eqHex(nameHash(parent, c.name.normalize('NFD')), c.name_hash_hex);
    });
  }
});

describe('tree.json node_record', () => {
  for (const [i, c] of T.node_record.cases.entries()) {
    it(`case ${i}: encodes byte for byte, signs, verifies`, () => {
      const r = recordOf(c);
      eqHex(marshalNodeRecord(r), c.marshaled_hex);
      eqHex(signNodeRecord(r, h(c.signer_identity_seed_hex)), c.signature_hex);
      eqHex(ed25519PublicKey(h(c.signer_identity_seed_hex)), c.author_public_hex);
      verifyNodeRecord(r, h(c.author_public_hex), h(c.signature_hex));
      // Round trip through the wire form.
      const w = nodeRecordFromWire(JSON.parse(JSON.stringify(nodeRecordToWire(r, h(c.signature_hex)))));
      eqHex(marshalNodeRecord(w.record), c.marshaled_hex);
      eqHex(w.signature, c.signature_hex);
    });
  }
  for (const c of T.node_record.must_fail) {
    it(`must fail: ${c.why}`, () => {
      assert.throws(() => verifyNodeRecord(recordOf(c), h(c.author_public_hex), h(c.signature_hex)), BadSignatureError);
      if (c.why.startsWith('validly signed')) assert.throws(() => validateNodeRecord(recordOf(c)), BadRecordError);
    });
  }
  it('a record and its name hash: openRecordName', async () => {
    // report.pdf under Documents: tree.json's file record and its parent key.
    const file = T.node_record.cases.find((c: any) => c.kind === 2);
    const sn = T.sealed_name.cases.find((c: any) => c.node_hex === file.node_hex && c.parent_hex === file.parent_hex);
    const parent = await NodeKeys.derive(h(sn.parent_node_key_hex));
    assert.equal(await openRecordName(parent, recordOf(file)), sn.name);
    const wrongHash = { ...recordOf(file), nameHash: flip(h(file.name_hash_hex), 0) };
    await rejectsWith(openRecordName(parent, wrongHash), BadNameError);
  });
  it('the 0x01 encoding of a record equals encodeNodeRecord', () => {
    const c = T.node_record.cases[0];
    eqHex(encodeNodeRecord(recordOf(c)), c.marshaled_hex);
    assert.equal(fromHex(c.marshaled_hex)[0], 1);
  });
});
