// content.json: content keys, Padmé, blocks, attributes, revision records,
// head checks and manifests (crypto.md §12).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { h, eqHex, flip, loadVectors, recordOf, rejectsWith, revisionOf } from './helpers.ts';
import { concat, toHex } from '../src/crypto/bytes.ts';
import {
  BLOCK_SIZE,
  BlockSealer,
  blockCount,
  blockID,
  lastBlockLen,
  newContentKey,
  openAttrs,
  openContentKey,
  padmeLen,
  sealAttrs,
  sealContentKey,
  sealedBlockSize,
} from '../src/crypto/content.ts';
import { BadManifestError, BadRecordError, BadSignatureError, DecryptError } from '../src/crypto/errors.ts';
import {
  checkManifest,
  encodeRevisionRecord,
  marshalRevisionRecord,
  matchesHead,
  revisionDigest,
  revisionRecordFromWire,
  revisionRecordToWire,
  signRevisionRecord,
  verifyRevisionRecord,
  type RevisionRecord,
} from '../src/crypto/revision.ts';
import { verifyNodeRecord } from '../src/crypto/record.ts';
import { NodeKeys } from '../src/crypto/tree.ts';

const C = loadVectors('content');

const ids = (c: any) => [h(c.volume_hex), h(c.node_hex), h(c.revision_hex)] as const;

describe('content.json content_key', () => {
  for (const [i, c] of C.content_key.cases.entries()) {
    it(`case ${i}: wraps byte for byte and opens`, async () => {
      const nk = await NodeKeys.derive(h(c.node_key_hex));
      eqHex(await sealContentKey(nk, ...ids(c), h(c.content_key_hex), h(c.nonce_hex)), c.sealed_hex);
      eqHex(await openContentKey(nk, ...ids(c), h(c.sealed_hex)), c.content_key_hex);
    });
  }
  for (const c of C.content_key.must_fail) {
    it(`must fail: ${c.why}`, async () => {
      const nk = await NodeKeys.derive(h(c.node_key_hex));
      await rejectsWith(openContentKey(nk, ...ids(c), h(c.sealed_hex)), DecryptError, c.why);
    });
  }
});

describe('content.json padme', () => {
  it('reproduces the table', () => {
    for (const c of C.padme) assert.equal(padmeLen(Number(c.n)), Number(c.padded), `padme(${c.n})`);
  });
  it('examples of crypto.md §12.2 and the sealed sizes', () => {
    for (const [n, p] of [[15, 16], [37, 40], [100, 104], [1000, 1024], [65537, 67584]]) assert.equal(padmeLen(n!), p);
    assert.equal(padmeLen(0), 0);
    assert.equal(sealedBlockSize(BLOCK_SIZE), 4194333);
    assert.equal(sealedBlockSize(1), 30);
    assert.equal(sealedBlockSize(0), 0);
    // Overhead at most 12%, and padme is idempotent, for every n up to 70000.
    for (let n = 1; n <= 70000; n++) {
      const p = padmeLen(n);
      assert.ok(p >= n && p <= n * 1.12 + 1 && padmeLen(p) === p, `n = ${n}`);
    }
  });
});

function rulePlaintext(start: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (start + i) % 251;
  return b;
}

describe('content.json blocks (4 MiB block size)', () => {
  for (const [i, c] of C.blocks.cases.entries()) {
    it(`case ${i}: seals byte for byte, block ID, opens`, async () => {
      const s = await BlockSealer.create(h(c.content_key_hex), ...ids(c));
      const pt = c.plaintext_hex !== undefined ? h(c.plaintext_hex) : rulePlaintext(Number(c.plaintext_start), Number(c.plaintext_len));
      const last = c.last === true || c.last === 'true';
      const block = await s.seal(pt, Number(c.index), last, h(c.nonce_hex));
      assert.equal(block.length, Number(c.block_len));
      if (c.block_hex) eqHex(block, c.block_hex);
      else {
        eqHex(block.subarray(0, c.block_head_hex.length / 2), c.block_head_hex);
        eqHex(block.subarray(block.length - c.block_tail_hex.length / 2), c.block_tail_hex);
      }
      eqHex(await blockID(block), c.block_id_hex);
      const opened = await s.open(block, Number(c.index), last);
      assert.equal(opened.length, Number(c.padded_len));
      assert.equal(toHex(opened.subarray(0, pt.length)), toHex(pt));
      assert.ok(opened.subarray(pt.length).every((x) => x === 0));
    });
  }
  for (const c of C.blocks.must_fail) {
    it(`must fail: ${c.why}`, async () => {
      const s = await BlockSealer.create(h(c.content_key_hex), ...ids(c), Number(c.block_size));
      await rejectsWith(s.open(h(c.block_hex), Number(c.index), c.last === true), DecryptError, c.why);
    });
  }
});

describe('content.json tiny_blocks (64-byte block size)', () => {
  for (const [i, c] of C.tiny_blocks.cases.entries()) {
    it(`case ${i}: seals byte for byte and opens`, async () => {
      const s = await BlockSealer.create(h(c.content_key_hex), ...ids(c), Number(c.block_size));
      const last = c.last === true;
      const block = await s.seal(h(c.plaintext_hex), Number(c.index), last, h(c.nonce_hex));
      eqHex(block, c.block_hex);
      eqHex(await blockID(block), c.block_id_hex);
      const opened = await s.open(block, Number(c.index), last);
      assert.equal(opened.length, Number(c.padded_len));
    });
  }
  for (const c of C.tiny_blocks.must_fail) {
    it(`must fail: ${c.why}`, async () => {
      const s = await BlockSealer.create(h(c.content_key_hex), ...ids(c), Number(c.block_size));
      await rejectsWith(s.open(h(c.block_hex), Number(c.index), c.last === true), DecryptError, c.why);
    });
  }
  it('sealing refuses wrong block lengths', async () => {
    const c = C.tiny_blocks.cases[0];
    const s = await BlockSealer.create(h(c.content_key_hex), ...ids(c), 64);
    await assert.rejects(s.seal(new Uint8Array(63), 0, false));
    await assert.rejects(s.seal(new Uint8Array(0), 0, true));
    await assert.rejects(s.seal(new Uint8Array(65), 0, true));
  });
  it('random nonces: two seals of one block differ and both open', async () => {
    const c = C.tiny_blocks.cases[0];
    const s = await BlockSealer.create(h(c.content_key_hex), ...ids(c), 64);
    const a = await s.seal(h(c.plaintext_hex), 0, false);
    const b = await s.seal(h(c.plaintext_hex), 0, false);
    assert.notEqual(toHex(a), toHex(b));
    eqHex(await s.open(a, 0, false), c.plaintext_hex);
    eqHex(await s.open(b, 0, false), c.plaintext_hex);
  });
});

describe('content.json attrs', () => {
  for (const [i, c] of C.attrs.cases.entries()) {
    it(`case ${i}: seals byte for byte and opens`, async () => {
      const a = { size: BigInt(c.size), modTime: BigInt(c.mod_time), sha256: h(c.sha256_hex) };
      eqHex(await sealAttrs(h(c.content_key_hex), ...ids(c), a, h(c.nonce_hex)), c.sealed_hex);
      const got = await openAttrs(h(c.content_key_hex), ...ids(c), h(c.sealed_hex));
      assert.equal(got.size, a.size);
      assert.equal(got.modTime, a.modTime);
      eqHex(got.sha256, c.sha256_hex);
      if (c.plaintext_hex !== undefined) {
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', h(c.plaintext_hex)));
        eqHex(digest, c.sha256_hex);
      }
    });
  }
  for (const c of C.attrs.must_fail) {
    it(`must fail: ${c.why}`, async () => {
      await rejectsWith(openAttrs(h(c.content_key_hex), ...ids(c), h(c.sealed_hex)), DecryptError, c.why);
    });
  }
  it('a negative modification time round-trips (two\'s complement)', async () => {
    const c = C.attrs.cases[0];
    const ck = newContentKey();
    const a = { size: 0n, modTime: -1234567890123456789n, sha256: new Uint8Array(32) };
    const sealed = await sealAttrs(ck, ...ids(c), a);
    assert.equal(sealed.length, 78);
    assert.equal((await openAttrs(ck, ...ids(c), sealed)).modTime, a.modTime);
  });
});

describe('content.json revision_record', () => {
  for (const [i, c] of C.revision_record.cases.entries()) {
    it(`case ${i}: encodes, signs, digests byte for byte, verifies`, () => {
      const r = revisionOf(c);
      eqHex(marshalRevisionRecord(r), c.marshaled_hex);
      eqHex(signRevisionRecord(r, h(c.signer_identity_seed_hex)), c.signature_hex);
      verifyRevisionRecord(r, h(c.author_public_hex), h(c.signature_hex));
      eqHex(revisionDigest(r), c.digest_hex);
      const w = revisionRecordFromWire(JSON.parse(JSON.stringify(revisionRecordToWire(r, h(c.signature_hex)))));
      eqHex(encodeRevisionRecord(w.record), c.marshaled_hex);
    });
  }
  for (const c of C.revision_record.must_fail) {
    it(`must fail: ${c.why}`, () => {
      assert.throws(() => verifyRevisionRecord(revisionOf(c), h(c.author_public_hex), h(c.signature_hex)), BadSignatureError);
    });
  }
});

describe('content.json head', () => {
  for (const [i, c] of C.head.cases.entries()) {
    it(`case ${i}: the node record verifies and names this revision`, () => {
      const n = recordOf(c.node_record);
      verifyNodeRecord(n, h(c.node_record.author_public_hex), h(c.node_record.signature_hex));
      const r = revisionOf(c.revision);
      eqHex(revisionDigest(r), c.revision.digest_hex);
      matchesHead(r, n);
    });
  }
  for (const c of C.head.must_fail) {
    it(`must fail: ${c.why}`, () => {
      const n = recordOf(c.node_record);
      const r = revisionOf(c.revision);
      // Both signatures verify; only the head check refuses.
      verifyNodeRecord(n, h(c.node_record.author_public_hex), h(c.node_record.signature_hex));
      verifyRevisionRecord(r, h(c.revision.author_public_hex), h(c.revision.signature_hex));
      if (c.revision.digest_hex) eqHex(revisionDigest(r), c.revision.digest_hex);
      assert.throws(() => matchesHead(r, n), BadRecordError);
    });
  }
});

describe('content.json manifest', () => {
  const rev = (n: number): RevisionRecord => ({
    volume: new Uint8Array(16), node: new Uint8Array(16), revision: new Uint8Array(16), seq: 1,
    sealedContentKey: new Uint8Array(61), blocks: Array.from({ length: n }, () => new Uint8Array(32)),
    sealedAttrs: new Uint8Array(78), author: 'alice',
  });
  const attrs = (size: bigint) => ({ size, modTime: 0n, sha256: new Uint8Array(32) });
  for (const c of C.manifest.cases) {
    it(`size ${c.size}: ${c.block_count} blocks, last ${c.last_block_len}`, () => {
      assert.equal(blockCount(BigInt(c.size)), Number(c.block_count));
      assert.equal(lastBlockLen(BigInt(c.size)), Number(c.last_block_len));
      if (Number(c.block_count) < 5000) checkManifest(rev(Number(c.block_count)), attrs(BigInt(c.size)));
    });
  }
  for (const c of C.manifest.must_fail) {
    it(`must fail: ${c.why}`, () => {
      assert.throws(() => checkManifest(rev(Number(c.block_count)), attrs(BigInt(c.size))), BadManifestError);
    });
  }
});

describe('content tamper', () => {
  const c = C.tiny_blocks.cases[2];
  it('every single-bit flip of a block fails to open', async () => {
    const s = await BlockSealer.create(h(c.content_key_hex), ...ids(c), 64);
    const block = h(c.block_hex);
    for (let i = 0; i < block.length; i++) {
      await rejectsWith(s.open(flip(block, i, i % 8), 2, true), DecryptError, `byte ${i}`);
    }
    await rejectsWith(s.open(block.subarray(0, block.length - 1), 2, true), DecryptError);
    await rejectsWith(s.open(concat(block, new Uint8Array(1)), 2, true), DecryptError);
    await rejectsWith(s.open(block, 1, true), DecryptError);
    await rejectsWith(s.open(block, 2, false), DecryptError);
    const other = await BlockSealer.create(h(c.content_key_hex), h(c.volume_hex), h(c.node_hex), h(C.tiny_blocks.cases[3].revision_hex), 64);
    await rejectsWith(other.open(block, 2, true), DecryptError);
  });
});
