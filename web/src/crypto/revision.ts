/**
 * Revision records (manifests, crypto.md §12.4):
 *
 *   revision = 0x01 || LP(volume) || LP(node) || LP(revision) || u64(seq)
 *           || LP(sealed_content_key) || u32(n) || block_id_0 .. block_id_{n-1}
 *           || LP(sealed_attrs) || LP(author)
 *   signature = Ed25519-Sign(author, tagged("coffer/v1/revision", revision))
 *   digest    = SHA-256(tagged("coffer/v1/revision-digest", revision))
 *
 * and, for a revision that re-uses blocks of earlier ones (§12.6):
 *
 *   revision = 0x02 || LP(volume) || LP(node) || LP(revision) || u64(seq)
 *           || LP(sealed_content_key)
 *           || u32(k) || k × (LP(origin_revision) || LP(sealed_origin_key))
 *           || u32(n) || n × (block_id (32) || u32(origin))
 *           || LP(sealed_attrs) || LP(author)
 */

import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, concat, copyBytes, fromBase64, fromUtf8, lp, Reader, tagged, toBase64, toU64, u32, u64, u8, type Bytes } from './bytes.ts';
import { blockCount, SEALED_ATTRS_SIZE, SEALED_CONTENT_KEY_SIZE, SEALED_ORIGIN_KEY_SIZE, MAX_BLOCKS, type Attrs } from './content.ts';
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
  /**
   * The earlier revisions whose blocks this one re-uses (§12.6), in the
   * order of their first use; absent or empty if it re-uses none.
   */
  origins?: Origin[];
  /**
   * With origins: one entry per block, 0 for a block this revision
   * sealed, j for one that origins[j - 1] sealed at the same index.
   * Absent or empty without origins.
   */
  blockOrigins?: number[];
}

/** An earlier revision whose blocks a revision re-uses: its ID and its content key sealed under the re-using revision's. */
export interface Origin {
  revision: Uint8Array;
  sealedKey: Uint8Array;
}

const VERSION = 0x01;
const VERSION_REUSE = 0x02;

function originsOf(r: RevisionRecord): Origin[] {
  return r.origins ?? [];
}

function blockOriginsOf(r: RevisionRecord): number[] {
  return r.blockOrigins ?? [];
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
  validateOrigins(r);
  if (r.sealedAttrs.length !== SEALED_ATTRS_SIZE) throw bad(`sealed attributes are ${r.sealedAttrs.length} bytes, want ${SEALED_ATTRS_SIZE}`);
  checkAuthor(r.author);
}

/** The origin rules of §12.6 (BadRecordError). */
function validateOrigins(r: RevisionRecord): void {
  const origins = originsOf(r);
  const per = blockOriginsOf(r);
  const k = origins.length;
  if (k === 0) {
    if (per.length !== 0) throw bad(`${per.length} block origins without origins`);
    return;
  }
  if (per.length !== r.blocks.length) throw bad(`${per.length} block origins for ${r.blocks.length} blocks`);
  if (k > r.blocks.length) throw bad(`${k} origins for ${r.blocks.length} blocks`);
  const seen = new Set<string>();
  origins.forEach((o, j) => {
    if (o.revision.length !== ID_SIZE) throw bad(`origin ${j + 1}: revision ID is ${o.revision.length} bytes, want ${ID_SIZE}`);
    if (bytesEqual(o.revision, r.revision)) throw bad(`origin ${j + 1} is the revision itself`);
    const id = toBase64(o.revision);
    if (seen.has(id)) throw bad(`origin ${j + 1} is listed twice`);
    seen.add(id);
    if (o.sealedKey.length !== SEALED_ORIGIN_KEY_SIZE) throw bad(`origin ${j + 1}: sealed key is ${o.sealedKey.length} bytes, want ${SEALED_ORIGIN_KEY_SIZE}`);
  });
  // Origins are numbered in the order of their first use, and each is used.
  let next = 1;
  per.forEach((o, i) => {
    if (!Number.isSafeInteger(o) || o < 0 || o > k) throw bad(`block ${i} names origin ${o} of ${k}`);
    if (o === next) next++;
    else if (o > next) throw bad(`block ${i} names origin ${o} before any block names origin ${next}`);
  });
  if (next <= k) throw bad(`origin ${next} is used by no block`);
}

/** The canonical encoding without validation. */
export function encodeRevisionRecord(r: RevisionRecord): Bytes {
  const origins = originsOf(r);
  const head = [lp(r.volume), lp(r.node), lp(r.revision), u64(r.seq), lp(r.sealedContentKey)];
  const tail = [lp(r.sealedAttrs), lp(r.author)];
  if (origins.length === 0) return concat(u8(VERSION), ...head, u32(r.blocks.length), ...r.blocks, ...tail);
  const per = blockOriginsOf(r);
  const parts: Uint8Array[] = [u8(VERSION_REUSE), ...head, u32(origins.length)];
  for (const o of origins) parts.push(lp(o.revision), lp(o.sealedKey));
  parts.push(u32(r.blocks.length));
  r.blocks.forEach((b, i) => parts.push(b, u32(per[i] ?? 0)));
  return concat(...parts, ...tail);
}

/**
 * Parses the canonical encoding of a revision record of either version
 * (Go: UnmarshalRevisionRecord) and validates it; throws BadRecordError
 * for anything else, trailing bytes and a version 0x02 encoding without
 * origins included. Records travel as JSON: this is for the vectors.
 */
export function decodeRevisionRecord(b: Uint8Array): RevisionRecord {
  const short = () => bad('truncated or malformed encoding');
  const rd = new Reader(b);
  const version = rd.u8();
  if (version === undefined) throw short();
  if (version !== VERSION && version !== VERSION_REUSE) throw bad(`unsupported version 0x${version.toString(16).padStart(2, '0')}`);
  const reuse = version === VERSION_REUSE;
  const field = () => {
    const v = rd.lp();
    if (v === undefined) throw short();
    return copyBytes(v);
  };
  const volume = field();
  const node = field();
  const revision = field();
  const seq = rd.u64();
  if (seq === undefined) throw short();
  const sealedContentKey = field();
  let origins: Origin[] | undefined;
  if (reuse) {
    const k = rd.u32();
    if (k === undefined || k > rd.remaining / 8) throw short();
    if (k === 0) throw bad('version 0x02 record without origins');
    origins = [];
    for (let j = 0; j < k; j++) origins.push({ revision: field(), sealedKey: field() });
  }
  const n = rd.u32();
  const per = reuse ? 36 : 32;
  if (n === undefined || n > rd.remaining / per) throw short();
  const blocks: Uint8Array[] = [];
  const blockOrigins: number[] = [];
  for (let i = 0; i < n; i++) {
    blocks.push(copyBytes(rd.bytes(32)!));
    if (reuse) blockOrigins.push(rd.u32()!);
  }
  const sealedAttrs = field();
  const author = rd.lp();
  if (author === undefined || !rd.empty) throw short();
  let name: string;
  try {
    name = fromUtf8(author);
  } catch {
    throw bad('author is not UTF-8');
  }
  const r: RevisionRecord = { volume, node, revision, seq, sealedContentKey, blocks, sealedAttrs, author: name };
  if (origins) {
    r.origins = origins;
    r.blockOrigins = blockOrigins;
  }
  validateRevisionRecord(r);
  // A name that is not UTF-8 would not survive the round trip: refuse it.
  if (!bytesEqual(encodeRevisionRecord(r), b)) throw bad('not the canonical encoding');
  return r;
}

/**
 * Block i's source (Go: BlockSource): origin 0 and the record's own
 * revision ID, or origin j and the ID of the revision that sealed it.
 * The record must be valid and i in range.
 */
export function blockSource(r: RevisionRecord, i: number): { origin: number; revision: Uint8Array } {
  const j = originsOf(r).length === 0 ? 0 : (blockOriginsOf(r)[i] ?? 0);
  return j === 0 ? { origin: 0, revision: r.revision } : { origin: j, revision: originsOf(r)[j - 1]!.revision };
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
  /** Origins of re-used blocks (§12.6), absent when none. */
  origins?: { revision: string; sealed_key: string }[] | null;
  block_origins?: number[] | null;
  author: string;
  signature: string;
  size?: number;
  created_at?: string;
}

/** Converts a wire revision to a RevisionRecord and its signature (throws CofferCryptoError on bad base64). */
export function revisionRecordFromWire(w: WireRevision): { record: RevisionRecord; signature: Bytes } {
  const record: RevisionRecord = {
    volume: fromBase64(w.volume),
    node: fromBase64(w.node),
    revision: fromBase64(w.id),
    seq: w.seq,
    sealedContentKey: fromBase64(w.sealed_content_key),
    blocks: (w.blocks ?? []).map(fromBase64),
    sealedAttrs: fromBase64(w.sealed_attrs),
    author: w.author,
  };
  if (w.origins && w.origins.length > 0) record.origins = w.origins.map((o) => ({ revision: fromBase64(o.revision), sealedKey: fromBase64(o.sealed_key) }));
  if (w.block_origins && w.block_origins.length > 0) record.blockOrigins = [...w.block_origins];
  return { record, signature: fromBase64(w.signature) };
}

/** The wire form of a revision record and its signature, for uploads. */
export function revisionRecordToWire(r: RevisionRecord, signature: Uint8Array): WireRevision {
  const w: WireRevision = {
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
  if (originsOf(r).length > 0) {
    w.origins = originsOf(r).map((o) => ({ revision: toBase64(o.revision), sealed_key: toBase64(o.sealedKey) }));
    w.block_origins = [...blockOriginsOf(r)];
  }
  return w;
}
