/**
 * Revision records (manifests, crypto.md §12.4):
 *
 *   revision = 0x01 || LP(volume) || LP(node) || LP(revision) || u64(seq)
 *           || LP(sealed_content_key) || u32(n) || block_id_0 .. block_id_{n-1}
 *           || LP(sealed_attrs) || LP(author)
 *   signature = Ed25519-Sign(author, tagged("coffer/v1/revision", revision))
 *   digest    = SHA-256(tagged("coffer/v1/revision-digest", revision))
 */

import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, concat, fromBase64, lp, tagged, toBase64, toU64, u32, u64, u8, type Bytes } from './bytes.ts';
import { blockCount, SEALED_ATTRS_SIZE, SEALED_CONTENT_KEY_SIZE, MAX_BLOCKS, type Attrs } from './content.ts';
import { ed25519Sign, verifyEd25519 } from './ed25519.ts';
import { BadManifestError, BadRecordError, BadSignatureError } from './errors.ts';
import { LABEL_REVISION, LABEL_REVISION_DIGEST } from './labels.ts';
import { checkAuthor, type NodeRecord } from './record.ts';
import { ID_SIZE } from './tree.ts';

/** A revision record's fields. */
export interface RevisionRecord {
  volume: Uint8Array;
  node: Uint8Array;
  revision: Uint8Array;
  seq: number | bigint;
  sealedContentKey: Uint8Array;
  /** Block IDs, 32 bytes each, in order. */
  blocks: Uint8Array[];
  sealedAttrs: Uint8Array;
  author: string;
}

function bad(why: string): BadRecordError {
  return new BadRecordError(`malformed record: ${why}`);
}

/** Validate: throws BadRecordError unless the record follows the rules of §12.4. */
export function validateRevisionRecord(r: RevisionRecord): void {
  for (const [what, v] of [
    ['volume ID', r.volume],
    ['node ID', r.node],
    ['revision ID', r.revision],
  ] as const) {
    if (v.length !== ID_SIZE) throw bad(`${what} is ${v.length} bytes, want ${ID_SIZE}`);
  }
  let seq: bigint;
  try {
    seq = toU64(r.seq);
  } catch {
    throw bad('revision sequence number is not a 64-bit unsigned integer');
  }
  if (seq === 0n) throw bad('revision sequence number 0 (sequence numbers start at 1)');
  if (r.sealedContentKey.length !== SEALED_CONTENT_KEY_SIZE) {
    throw bad(`sealed content key is ${r.sealedContentKey.length} bytes, want ${SEALED_CONTENT_KEY_SIZE}`);
  }
  if (r.blocks.length > MAX_BLOCKS) throw bad(`${r.blocks.length} blocks, limit ${MAX_BLOCKS}`);
  for (const b of r.blocks) if (b.length !== 32) throw bad('a block ID is not 32 bytes');
  if (r.sealedAttrs.length !== SEALED_ATTRS_SIZE) throw bad(`sealed attributes are ${r.sealedAttrs.length} bytes, want ${SEALED_ATTRS_SIZE}`);
  checkAuthor(r.author);
}

/** The canonical encoding without validation. */
export function encodeRevisionRecord(r: RevisionRecord): Bytes {
  return concat(
    u8(0x01),
    lp(r.volume),
    lp(r.node),
    lp(r.revision),
    u64(r.seq),
    lp(r.sealedContentKey),
    u32(r.blocks.length),
    ...r.blocks,
    lp(r.sealedAttrs),
    lp(r.author),
  );
}

/** Marshal: the canonical encoding; throws BadRecordError for a record that breaks the rules. */
export function marshalRevisionRecord(r: RevisionRecord): Bytes {
  validateRevisionRecord(r);
  return encodeRevisionRecord(r);
}

/** Digest: SHA-256(tagged("coffer/v1/revision-digest", Marshal())); throws BadRecordError for a malformed record. */
export function revisionDigest(r: RevisionRecord): Bytes {
  return sha256(tagged(LABEL_REVISION_DIGEST, marshalRevisionRecord(r))) as Bytes;
}

/** Sign: Ed25519-Sign(identity seed, tagged("coffer/v1/revision", Marshal())). */
export function signRevisionRecord(r: RevisionRecord, identitySeed: Uint8Array): Bytes {
  return ed25519Sign(identitySeed, tagged(LABEL_REVISION, marshalRevisionRecord(r)));
}

/** Verify: throws BadSignatureError (cause: BadRecordError, BadEd25519KeyError) unless sig is the author's. */
export function verifyRevisionRecord(r: RevisionRecord, authorPublic: Uint8Array, sig: Uint8Array): void {
  let msg: Bytes;
  let ok: boolean;
  try {
    msg = tagged(LABEL_REVISION, marshalRevisionRecord(r));
    ok = verifyEd25519(authorPublic, msg, sig);
  } catch (e) {
    throw new BadSignatureError(`bad record signature: ${(e as Error).message}`, { cause: e });
  }
  if (!ok) throw new BadSignatureError('bad record signature: signature does not verify');
}

/**
 * MatchesHead: throws BadRecordError unless r is well formed and is the
 * head that the (already verified) node record names: same volume, node,
 * revision ID and seq, and digest = node.revisionDigest.
 */
export function matchesHead(r: RevisionRecord, node: NodeRecord): void {
  validateRevisionRecord(r);
  if (
    !bytesEqual(r.volume, node.volume) ||
    !bytesEqual(r.node, node.node) ||
    !bytesEqual(r.revision, node.revision) ||
    toU64(r.seq) !== BigInt(node.revisionSeq)
  ) {
    throw new BadRecordError('malformed record: revision is not the head of its node');
  }
  if (!bytesEqual(revisionDigest(r), node.revisionDigest)) {
    throw new BadRecordError('malformed record: revision is not the record its node names as its head: digest differs');
  }
}

/** CheckManifest: throws BadManifestError unless the record lists ceil(size / 4 MiB) blocks. */
export function checkManifest(r: RevisionRecord, a: Attrs): void {
  const want = blockCount(a.size);
  if (want < 0 || r.blocks.length !== want) {
    throw new BadManifestError(`manifest does not match attributes: revision lists ${r.blocks.length} blocks, its sealed size needs ${want}`);
  }
}

/** A revision's JSON as the server sends it (internal/api.Revision). */
export interface WireRevision {
  id: string;
  node: string;
  volume: string;
  seq: number;
  sealed_content_key: string;
  sealed_attrs: string;
  blocks: string[] | null;
  author: string;
  signature: string;
  size?: number;
  created_at?: string;
}

/** Converts a wire revision to a RevisionRecord and its signature (throws CofferCryptoError on bad base64). */
export function revisionRecordFromWire(w: WireRevision): { record: RevisionRecord; signature: Bytes } {
  return {
    record: {
      volume: fromBase64(w.volume),
      node: fromBase64(w.node),
      revision: fromBase64(w.id),
      seq: w.seq,
      sealedContentKey: fromBase64(w.sealed_content_key),
      blocks: (w.blocks ?? []).map(fromBase64),
      sealedAttrs: fromBase64(w.sealed_attrs),
      author: w.author,
    },
    signature: fromBase64(w.signature),
  };
}

/** The wire form of a revision record and its signature, for uploads. */
export function revisionRecordToWire(r: RevisionRecord, signature: Uint8Array): WireRevision {
  return {
    id: toBase64(r.revision),
    node: toBase64(r.node),
    volume: toBase64(r.volume),
    seq: Number(r.seq),
    sealed_content_key: toBase64(r.sealedContentKey),
    sealed_attrs: toBase64(r.sealedAttrs),
    blocks: r.blocks.map(toBase64),
    author: r.author,
    signature: toBase64(signature),
  };
}
