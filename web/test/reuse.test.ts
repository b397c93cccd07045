// content.json revision_reuse: revisions that re-use blocks of earlier
// ones (crypto.md §12.6), read as the Go reference reads them, and the
// download path (RevisionReader, BlockOpener params as a worker gets them)
// on a revision that re-uses real 4 MiB blocks.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { h, eqHex, loadVectors, rejectsWith } from './helpers.ts';
import { concat, isAllZero, randomBytes, tagged, lps, u64, u8, type Bytes } from '../src/crypto/bytes.ts';
import {
  BLOCK_SIZE,
  BlockSealer,
  blockID,
  newContentKey,
  openAttrs,
  openContentKey,
  openOriginKey,
  sealAttrs,
  sealContentKey,
  sealOriginKey,
  type Attrs,
} from '../src/crypto/content.ts';
import { BadManifestError, BadRecordError, CofferCryptoError, DecryptError } from '../src/crypto/errors.ts';
import { sha256Async } from '../src/crypto/envelope.ts';
import { BlockOpener, RevisionReader, revisionSealers } from '../src/crypto/file.ts';
import { LABEL_BLOCK, LABEL_ORIGIN_KEY } from '../src/crypto/labels.ts';
import { KIND_FILE, type NodeRecord } from '../src/crypto/record.ts';
import {
  blockSource,
  decodeRevisionRecord,
  encodeRevisionRecord,
  marshalRevisionRecord,
  revisionDigest,
  revisionRecordFromWire,
  revisionRecordToWire,
  signRevisionRecord,
  verifyRevisionRecord,
  type RevisionRecord,
} from '../src/crypto/revision.ts';
import { newID, newNodeKey, NodeKeys } from '../src/crypto/tree.ts';

const G = loadVectors('content').revision_reuse;
const BS: number = G.block_size;

const stored = new Map<string, Uint8Array>();
for (const b of G.stored_blocks) stored.set(b.block_id_hex, h(b.block_hex));

/**
 * Reads revision r as the vectors' reader does: content key under the
 * file's keys, attributes, block count (64-byte blocks), origin keys, each
 * block under the key of the revision that sealed it, the whole SHA-256.
 */
async function read(nk: NodeKeys, r: RevisionRecord): Promise<Uint8Array> {
  const ck = await openContentKey(nk, r.volume, r.node, r.revision, r.sealedContentKey);
  const a = await openAttrs(ck, r.volume, r.node, r.revision, r.sealedAttrs);
  if (BigInt(r.blocks.length) !== (a.size + BigInt(BS) - 1n) / BigInt(BS)) throw new BadManifestError('block count');
  const sealers = await revisionSealers(ck, r, BS);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < r.blocks.length; i++) {
    const blk = stored.get(Buffer.from(r.blocks[i]!).toString('hex'));
    if (!blk) throw new DecryptError('block missing');
    const last = i === r.blocks.length - 1;
    let pt = await sealers[r.blockOrigins?.[i] ?? 0]!.open(blk, i, last);
    if (last) {
      const keep = Number(a.size) - i * BS;
      if (!isAllZero(pt.subarray(keep))) throw new DecryptError('padding');
      pt = pt.subarray(0, keep);
    }
    parts.push(pt);
  }
  const all = concat(...parts);
  if (Buffer.compare(await sha256Async(all), a.sha256) !== 0) throw new DecryptError('sha256');
  return all;
}

describe('content.json revision_reuse', () => {
  for (const c of G.cases) {
    it(`revision ${c.name}: reproduces every sealed byte and reads back`, async () => {
      const nk = await NodeKeys.derive(h(c.node_key_hex));
      const [vol, node, rev] = [h(c.volume_hex), h(c.node_hex), h(c.revision_hex)];
      const ck = h(c.content_key_hex);
      eqHex(await sealContentKey(nk, vol, node, rev, ck, h(c.content_key_nonce_hex)), c.sealed_content_key_hex);
      const plain = h(c.plaintext_hex);
      const a: Attrs = { size: BigInt(c.size), modTime: BigInt(c.mod_time), sha256: await sha256Async(plain) };
      eqHex(await sealAttrs(ck, vol, node, rev, a, h(c.attrs_nonce_hex)), c.sealed_attrs_hex);
      const own = await BlockSealer.create(ck, vol, node, rev, BS);
      for (const sb of c.sealed_blocks) {
        const blk = await own.seal(h(sb.plaintext_hex), sb.index, sb.last, h(sb.nonce_hex));
        eqHex(blk, sb.block_hex);
        eqHex(await blockID(blk), sb.block_id_hex);
      }
      const origins = [];
      for (const o of c.origins) {
        eqHex(tagged(LABEL_ORIGIN_KEY, lps(vol, node, rev, h(o.revision_hex))), o.ad_hex);
        const sealed = await sealOriginKey(ck, vol, node, rev, h(o.revision_hex), h(o.content_key_hex), h(o.nonce_hex));
        eqHex(sealed, o.sealed_key_hex);
        eqHex(await openOriginKey(ck, vol, node, rev, h(o.revision_hex), sealed), o.content_key_hex);
        origins.push({ revision: h(o.revision_hex), sealedKey: sealed });
      }
      const r: RevisionRecord = {
        volume: vol, node, revision: rev, seq: BigInt(c.seq), sealedContentKey: h(c.sealed_content_key_hex),
        blocks: c.blocks_hex.map(h), sealedAttrs: h(c.sealed_attrs_hex), author: c.author,
      };
      if (origins.length > 0) {
        r.origins = origins;
        r.blockOrigins = c.block_origins;
      }
      eqHex(marshalRevisionRecord(r), c.marshaled_hex);
      assert.equal(h(c.marshaled_hex)[0], c.version);
      const parsed = decodeRevisionRecord(h(c.marshaled_hex));
      eqHex(encodeRevisionRecord(parsed), c.marshaled_hex);
      eqHex(signRevisionRecord(parsed, h(c.signer_identity_seed_hex)), c.signature_hex);
      verifyRevisionRecord(parsed, h(c.author_public_hex), h(c.signature_hex));
      eqHex(revisionDigest(parsed), c.digest_hex);
      for (const rc of c.read) {
        const src = blockSource(parsed, rc.index);
        assert.equal(src.origin, rc.origin);
        eqHex(src.revision, rc.sealed_by_hex);
        eqHex(tagged(LABEL_BLOCK, lps(vol, node, src.revision), u64(rc.index), u8(rc.last ? 1 : 0)), rc.ad_hex);
      }
      eqHex(await read(nk, parsed), c.plaintext_hex);
      // The wire form keeps the origins.
      const back = revisionRecordFromWire(revisionRecordToWire(parsed, h(c.signature_hex))).record;
      eqHex(encodeRevisionRecord(back), c.marshaled_hex);
    });
  }

  it('truncation at every byte boundary and a byte appended are refused', () => {
    for (const c of G.cases) {
      const enc = h(c.marshaled_hex);
      for (let n = 0; n < enc.length; n++) assert.throws(() => decodeRevisionRecord(enc.subarray(0, n)), BadRecordError, `${c.name} cut to ${n}`);
      assert.throws(() => decodeRevisionRecord(concat(enc, u8(0))), BadRecordError, `${c.name} + 1 byte`);
    }
  });

  for (const c of G.must_fail) {
    it(`must fail: ${c.why}`, async () => {
      const nk = await NodeKeys.derive(h(G.cases[0].node_key_hex));
      await assert.rejects(
        async () => {
          const r = decodeRevisionRecord(h(c.marshaled_hex));
          // Well formed: its author's signature verifies; reading refuses it.
          verifyRevisionRecord(r, h(G.cases[0].author_public_hex), h(c.signature_hex));
          await read(nk, r);
        },
        (e: unknown) => e instanceof BadRecordError || e instanceof DecryptError || e instanceof BadManifestError,
      );
    });
  }
});

describe('origin keys', () => {
  it('refuse the revision as its own origin, its own key, and other IDs', async () => {
    const [vol, node, rev, origin] = [newID(), newID(), newID(), newID()];
    const ck = newContentKey();
    const ok = newContentKey();
    await assert.rejects(sealOriginKey(ck, vol, node, rev, rev, ok), CofferCryptoError);
    await assert.rejects(sealOriginKey(ck, vol, node, rev, origin, ck), CofferCryptoError);
    await assert.rejects(sealOriginKey(ck, vol, node, rev, origin, new Uint8Array(32)), CofferCryptoError);
    const sealed = await sealOriginKey(ck, vol, node, rev, origin, ok);
    await rejectsWith(openOriginKey(ck, vol, node, origin, rev, sealed), DecryptError, 'swapped');
    await rejectsWith(openOriginKey(ck, vol, node, rev, rev, sealed), DecryptError, 'itself');
    await rejectsWith(openOriginKey(ck, vol, newID(), rev, origin, sealed), DecryptError, 'other node');
    await rejectsWith(openOriginKey(ok, vol, node, rev, origin, sealed), DecryptError, 'other key');
  });
});

/**
 * A file of two revisions at the real block size: the first of 2 blocks
 * and 1000 bytes; the second re-uses its blocks 0 and 2 (the last, same
 * length) and seals a new block 1. Returns the second as head.
 */
async function reusingHead() {
  const keys = await NodeKeys.derive(newNodeKey());
  const [volume, node, rev1, rev2] = [newID(), newID(), newID(), newID()];
  const size = 2 * BLOCK_SIZE + 1000;
  const c1 = randomBytes(size);
  const c2 = Uint8Array.from(c1);
  c2.set(randomBytes(BLOCK_SIZE), BLOCK_SIZE);
  const ck1 = newContentKey();
  const ck2 = newContentKey();
  const s1 = await BlockSealer.create(ck1, volume, node, rev1);
  const s2 = await BlockSealer.create(ck2, volume, node, rev2);
  const part = (c: Uint8Array, i: number) => c.subarray(i * BLOCK_SIZE, Math.min(size, (i + 1) * BLOCK_SIZE));
  const b0 = await s1.seal(part(c1, 0), 0, false);
  const b2 = await s1.seal(part(c1, 2), 2, true);
  const b1 = await s2.seal(part(c2, 1), 1, false);
  const blocks = [b0, b1, b2];
  const attrs: Attrs = { size: BigInt(size), modTime: 2n, sha256: await sha256Async(c2) };
  const rev: RevisionRecord = {
    volume, node, revision: rev2, seq: 2n,
    sealedContentKey: await sealContentKey(keys, volume, node, rev2, ck2),
    origins: [{ revision: rev1, sealedKey: await sealOriginKey(ck2, volume, node, rev2, rev1, ck1) }],
    blocks: await Promise.all(blocks.map(blockID)),
    blockOrigins: [1, 0, 1],
    sealedAttrs: await sealAttrs(ck2, volume, node, rev2, attrs),
    author: 'alice',
  };
  const file: NodeRecord = {
    volume, node, parent: newID(), kind: KIND_FILE, nameHash: new Uint8Array(32), sealedName: new Uint8Array(0),
    sealedKey: new Uint8Array(0), author: 'alice', version: 2, revision: rev2, revisionSeq: 2, revisionDigest: revisionDigest(rev),
  };
  return { keys, file, rev, blocks, content: c2, ck2, ck1 };
}

describe('the download path on a revision that re-uses blocks', () => {
  let r: Awaited<ReturnType<typeof reusingHead>>;
  before(async () => {
    r = await reusingHead();
  });

  it('RevisionReader opens each block with its origin, also from cloned params (a worker)', async () => {
    const reader = await RevisionReader.open(r.keys, r.file, r.rev);
    const opener = BlockOpener.fromParams(structuredClone(reader.opener.params));
    const pts: Bytes[] = [];
    for (let i = 0; i < 3; i++) pts.push(await opener.open(i, reader.blockID(i), r.blocks[i]!));
    for (let i = 0; i < 3; i++) reader.addBlock(i, [pts[i]!]);
    reader.finish();
    assert.deepEqual(concat(...pts), r.content);
    const again = await RevisionReader.open(r.keys, r.file, r.rev);
    for (let i = 0; i < 3; i++) await again.openBlock(i, r.blocks[i]!);
    again.finish();
  });

  it('fails closed when a block is opened under the wrong origin', async () => {
    const reader = await RevisionReader.open(r.keys, r.file, r.rev);
    const p = reader.opener.params;
    const wrong = BlockOpener.fromParams({ ...p, blockOrigins: [0, 0, 1] });
    await rejectsWith(wrong.open(0, reader.blockID(0), r.blocks[0]!), DecryptError, 'origin 0 for a re-used block');
    const wrong2 = BlockOpener.fromParams({ ...p, blockOrigins: [1, 1, 1] });
    await rejectsWith(wrong2.open(1, reader.blockID(1), r.blocks[1]!), DecryptError, 'an origin for an own block');
    assert.throws(() => BlockOpener.fromParams({ ...p, blockOrigins: [1, 0] }), CofferCryptoError);
    assert.throws(() => BlockOpener.fromParams({ ...p, blockOrigins: [2, 0, 1] }), CofferCryptoError);
    assert.throws(() => BlockOpener.fromParams({ ...p, origins: [] }), CofferCryptoError);
  });

  it('a tampered origin key or a head whose origins changed does not open', async () => {
    const flipped = { ...r.rev, origins: [{ revision: r.rev.origins![0]!.revision, sealedKey: Uint8Array.from(r.rev.origins![0]!.sealedKey) }] };
    flipped.origins[0]!.sealedKey[30]! ^= 1;
    // Against the genuine node record: the digest differs.
    await rejectsWith(RevisionReader.open(r.keys, r.file, flipped), BadRecordError, 'head check');
    // Even if the author vouched for it, the origin key does not open.
    const vouched = { ...r.file, revisionDigest: revisionDigest(flipped) };
    await rejectsWith(RevisionReader.open(r.keys, vouched, flipped), DecryptError, 'origin key');
    const v1 = { ...r.rev, origins: undefined, blockOrigins: undefined };
    const reader = await RevisionReader.open(r.keys, { ...r.file, revisionDigest: revisionDigest(v1) }, v1);
    await rejectsWith(reader.opener.open(0, reader.blockID(0), r.blocks[0]!), DecryptError, 'origins dropped');
  });
});
