/**
 * Node records (crypto.md §11.6): the signed description of one node.
 *
 *   record = 0x01 (0x02 with a key history)
 *         || LP(volume) || LP(node) || LP(parent) || u8(kind) || name_hash (32)
 *         || LP(sealed_name) || LP(sealed_key) || LP(author) || u64(version)
 *         || LP(revision) || u64(revision_seq) || revision_digest (32)
 *         [|| LP(key_history)]                                 (0x02 only)
 *   signature = Ed25519-Sign(author, tagged("coffer/v1/node-record", record))
 */

import { bytesEqual, concat, ctEqual, fromBase64, isAllZero, lp, tagged, toBase64, toU64, u64, u8, utf8, type Bytes } from './bytes.ts';
import { ed25519Sign, verifyEd25519 } from './ed25519.ts';
import { BadNameError, BadRecordError, BadSignatureError, DecryptError } from './errors.ts';
import { HPKE_OVERHEAD } from './hpke.ts';
import { LABEL_NODE_RECORD } from './labels.ts';
import { isSealedNameSize, MAX_NAME_PLAINTEXT, NAME_PAD, nameHash, openName } from './names.ts';
import { ID_SIZE, isSealedKeyHistorySize, SEALED_NODE_KEY_SIZE, SEALED_ROOT_KEY_SIZE, type NodeKeys, type NodeRef } from './tree.ts';

export const KIND_FOLDER = 1;
export const KIND_FILE = 2;
/** The longest author (account) name, in bytes. */
export const MAX_AUTHOR_LEN = 255;

/** Smallest and largest sealed inbox drop (13.9): 1170 + 32k bytes, k = 1..9. */
export const SEALED_INBOX_DROP_MIN_SIZE = HPKE_OVERHEAD + 1 + 32 + NAME_PAD;
export const SEALED_INBOX_DROP_MAX_SIZE = HPKE_OVERHEAD + 1 + 32 + MAX_NAME_PLAINTEXT;

/** True if n is a sealed inbox drop's size (IsSealedInboxDropSize). */
export function isSealedInboxDropSize(n: number): boolean {
  return n >= SEALED_INBOX_DROP_MIN_SIZE && n <= SEALED_INBOX_DROP_MAX_SIZE && (n - SEALED_INBOX_DROP_MIN_SIZE) % NAME_PAD === 0;
}

/** A node record's fields (what the server stores and serves as JSON, minus ID naming and signature). */
export interface NodeRecord {
  volume: Uint8Array;
  node: Uint8Array;
  /** Empty for a volume's root. */
  parent: Uint8Array;
  /** KIND_FOLDER (1) or KIND_FILE (2). */
  kind: number;
  /** 32 bytes: NameHash; zeros for a root; random for an inbox drop. */
  nameHash: Uint8Array;
  /** Empty for a root and an inbox drop. */
  sealedName: Uint8Array;
  sealedKey: Uint8Array;
  author: string;
  version: number | bigint;
  /** Head revision ID, or empty. */
  revision: Uint8Array;
  revisionSeq: number | bigint;
  /** 32 bytes: the head revision's digest, or zeros. */
  revisionDigest: Uint8Array;
  /** A rotated file's sealed earlier keys; empty or absent otherwise. */
  keyHistory?: Uint8Array;
}

/** Throws BadRecordError unless author is 1 to 255 UTF-8 bytes. */
export function checkAuthor(author: string): void {
  const n = utf8(author).length;
  if (n === 0 || n > MAX_AUTHOR_LEN) throw new BadRecordError(`malformed record: author name is ${n} bytes, want 1 to ${MAX_AUTHOR_LEN}`);
}

function bad(why: string): BadRecordError {
  return new BadRecordError(`malformed record: ${why}`);
}

function id(what: string, b: Uint8Array): void {
  if (b.length !== ID_SIZE) throw bad(`${what} is ${b.length} bytes, want ${ID_SIZE}`);
}

function u64Field(what: string, v: number | bigint): bigint {
  try {
    return toU64(v);
  } catch {
    throw bad(`${what} is not a 64-bit unsigned integer`);
  }
}

/** IsDrop: the record has a parent and no sealed name (an inbox drop, 13.9). */
export function isDrop(r: NodeRecord): boolean {
  return r.parent.length !== 0 && r.sealedName.length === 0;
}

/** The record's NodeRef, for unwrapNodeKey and openName. */
export function recordRef(r: NodeRecord): NodeRef {
  return { volume: r.volume, parent: r.parent, node: r.node };
}

/**
 * Validate: throws BadRecordError if r breaks a rule of crypto.md §11.6
 * (so it can be neither signed nor trusted).
 */
export function validateNodeRecord(r: NodeRecord): void {
  id('volume ID', r.volume);
  id('node ID', r.node);
  if (r.kind !== KIND_FOLDER && r.kind !== KIND_FILE) throw bad(`unknown node kind ${r.kind}`);
  if (r.nameHash.length !== 32) throw bad('name hash is not 32 bytes');
  if (r.revisionDigest.length !== 32) throw bad('revision digest is not 32 bytes');
  if (r.parent.length === 0) {
    if (r.kind !== KIND_FOLDER) throw bad('a root must be a folder');
    if (r.sealedName.length !== 0 || !isAllZero(r.nameHash)) throw bad('a root has no name');
    if (r.sealedKey.length !== SEALED_ROOT_KEY_SIZE) throw bad(`sealed root key is ${r.sealedKey.length} bytes, want ${SEALED_ROOT_KEY_SIZE}`);
  } else {
    id('parent ID', r.parent);
    if (bytesEqual(r.parent, r.node)) throw bad('node is its own parent');
    if (r.sealedName.length === 0) {
      if (r.kind !== KIND_FILE) throw bad('an inbox drop (no sealed name) must be a file');
      if (!isSealedInboxDropSize(r.sealedKey.length)) {
        throw bad(`inbox drop (no sealed name) has a sealed key of ${r.sealedKey.length} bytes, not a sealed inbox drop's size`);
      }
    } else {
      if (!isSealedNameSize(r.sealedName.length)) throw bad(`sealed name is ${r.sealedName.length} bytes, not a sealed name's size`);
      if (r.sealedKey.length !== SEALED_NODE_KEY_SIZE) throw bad(`sealed node key is ${r.sealedKey.length} bytes, want ${SEALED_NODE_KEY_SIZE}`);
    }
  }
  const kh = r.keyHistory ?? new Uint8Array(0);
  if (kh.length !== 0) {
    if (r.kind !== KIND_FILE) throw bad('a folder has no key history');
    if (isDrop(r)) throw bad('an inbox drop has no key history');
    if (!isSealedKeyHistorySize(kh.length)) throw bad(`key history is ${kh.length} bytes, not a sealed key history's size`);
  }
  checkAuthor(r.author);
  if (u64Field('version', r.version) === 0n) throw bad('version 0 (versions start at 1)');
  const seq = u64Field('revision_seq', r.revisionSeq);
  if (r.revision.length === 0 && seq === 0n) {
    if (!isAllZero(r.revisionDigest)) throw bad(r.kind === KIND_FOLDER ? 'a folder has no revision digest' : 'revision digest without a revision');
  } else if (r.kind === KIND_FOLDER) {
    throw bad('a folder has no revision');
  } else if (r.revision.length === 0 || seq === 0n) {
    throw bad('revision ID and revision sequence number must be set together');
  } else {
    id('revision ID', r.revision);
    if (isAllZero(r.revisionDigest)) throw bad('revision without a revision digest');
  }
}

/** The canonical encoding without validation (for Marshal and tests). */
export function encodeNodeRecord(r: NodeRecord): Bytes {
  const kh = r.keyHistory ?? new Uint8Array(0);
  const parts: Uint8Array[] = [
    u8(kh.length !== 0 ? 0x02 : 0x01),
    lp(r.volume),
    lp(r.node),
    lp(r.parent),
    u8(r.kind),
    r.nameHash,
    lp(r.sealedName),
    lp(r.sealedKey),
    lp(r.author),
    u64(r.version),
    lp(r.revision),
    u64(r.revisionSeq),
    r.revisionDigest,
  ];
  if (kh.length !== 0) parts.push(lp(kh));
  return concat(...parts);
}

/** Marshal: the canonical encoding that is signed; throws BadRecordError for a record that breaks the rules. */
export function marshalNodeRecord(r: NodeRecord): Bytes {
  validateNodeRecord(r);
  return encodeNodeRecord(r);
}

/** Sign: Ed25519-Sign(identity seed, tagged("coffer/v1/node-record", Marshal())). Set author to the signer's name first. */
export function signNodeRecord(r: NodeRecord, identitySeed: Uint8Array): Bytes {
  return ed25519Sign(identitySeed, tagged(LABEL_NODE_RECORD, marshalNodeRecord(r)));
}

/**
 * Verify: throws BadSignatureError unless sig is the author's signature
 * over r (authorPublic from the author's pinned bundle, or a link payload's
 * owner identity; never from the server next to the record). The cause is
 * a BadRecordError for a malformed record, a BadEd25519KeyError for an
 * unacceptable key. Placement, authorization and freshness are the
 * caller's checks (§11.6 steps 2–3).
 */
export function verifyNodeRecord(r: NodeRecord, authorPublic: Uint8Array, sig: Uint8Array): void {
  let msg: Bytes;
  try {
    msg = tagged(LABEL_NODE_RECORD, marshalNodeRecord(r));
  } catch (e) {
    throw new BadSignatureError(`bad record signature: ${(e as Error).message}`, { cause: e });
  }
  let ok: boolean;
  try {
    ok = verifyEd25519(authorPublic, msg, sig);
  } catch (e) {
    throw new BadSignatureError(`bad record signature: ${(e as Error).message}`, { cause: e });
  }
  if (!ok) throw new BadSignatureError('bad record signature: signature does not verify');
}

/**
 * OpenRecordName: opens r's sealed name under the parent's keys and checks
 * that r.nameHash is its hash. DecryptError if it does not open (or r is a
 * drop, whose name is sealed to the inbox key); BadNameError if it opens
 * to a non-canonical name or the hash differs. Verify the record first.
 */
export async function openRecordName(parent: NodeKeys, r: NodeRecord): Promise<string> {
  if (isDrop(r)) throw new DecryptError('node record is an inbox drop, whose name is sealed to the inbox key');
  const name = await openName(parent, recordRef(r), r.sealedName);
  if (!ctEqual(nameHash(parent, name), r.nameHash)) throw new BadNameError('invalid name: name hash does not match the sealed name');
  return name;
}

/** The node's JSON as the server sends it (docs/api.md, internal/api.Node); byte fields in standard base64. */
export interface WireNode {
  id: string;
  volume: string;
  parent?: string;
  kind: number;
  name_hash: string;
  sealed_name?: string | null;
  sealed_key: string;
  author: string;
  version: number;
  revision?: string;
  revision_seq?: number;
  revision_digest?: string;
  key_history?: string;
  signature: string;
  trashed?: boolean;
  head?: unknown;
}

const b64 = (s: string | null | undefined): Bytes => (s ? fromBase64(s) : new Uint8Array(0));

/**
 * Converts a wire node to a NodeRecord and its signature (Go client
 * fromWire): a name hash that is not 32 bytes and a revision digest that
 * is present but not 32 bytes are BadRecordError; an absent digest is
 * zeros. Throws CofferCryptoError on invalid base64.
 */
export function nodeRecordFromWire(n: WireNode): { record: NodeRecord; signature: Bytes } {
  const nameHashBytes = b64(n.name_hash);
  if (nameHashBytes.length !== 32) throw new BadRecordError('malformed record: name hash is not 32 bytes');
  const digest = b64(n.revision_digest);
  if (n.revision_digest && digest.length !== 32) throw new BadRecordError('malformed record: revision digest is not 32 bytes');
  return {
    record: {
      volume: b64(n.volume),
      node: b64(n.id),
      parent: b64(n.parent),
      kind: n.kind,
      nameHash: nameHashBytes,
      sealedName: b64(n.sealed_name),
      sealedKey: b64(n.sealed_key),
      author: n.author,
      version: n.version,
      revision: b64(n.revision),
      revisionSeq: n.revision_seq ?? 0,
      revisionDigest: digest.length ? digest : new Uint8Array(32),
      keyHistory: b64(n.key_history),
    },
    signature: b64(n.signature),
  };
}

/**
 * The wire form of a record and its signature (Go client toWire): empty
 * optional fields and an all-zero revision digest are left out.
 */
export function nodeRecordToWire(r: NodeRecord, signature: Uint8Array): WireNode {
  const w: WireNode = {
    id: toBase64(r.node),
    volume: toBase64(r.volume),
    kind: r.kind,
    name_hash: toBase64(r.nameHash),
    sealed_name: r.sealedName.length ? toBase64(r.sealedName) : null,
    sealed_key: toBase64(r.sealedKey),
    author: r.author,
    version: Number(r.version),
    signature: toBase64(signature),
  };
  if (r.parent.length) w.parent = toBase64(r.parent);
  if (r.revision.length) w.revision = toBase64(r.revision);
  if (BigInt(r.revisionSeq) !== 0n) w.revision_seq = Number(r.revisionSeq);
  if (!isAllZero(r.revisionDigest)) w.revision_digest = toBase64(r.revisionDigest);
  if (r.keyHistory?.length) w.key_history = toBase64(r.keyHistory);
  return w;
}
