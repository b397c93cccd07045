/**
 * The tree's keys (crypto.md §11.1–11.4, 11.6 "Key history"):
 *
 *   sub-key(label)  = HKDF(node_key, tagged(label, ""), 32)
 *   wrapped child   = envelope under node_key_wrap of the parent,
 *                     AD = tagged("coffer/v1/node-key", LP(volume) || LP(parent) || LP(node))
 *   root key        = 0x01 || HPKE.Seal(owner X-Wing key, info = tagged("coffer/v1/root-key", LP(volume) || LP(node)))
 *   key history     = envelope under key_history_wrap of the current key,
 *                     AD = tagged("coffer/v1/key-history", LP(volume) || LP(node)),
 *                     plain = 0x01 || key_1 || ... || key_n (newest first, n = 1..64)
 */

import { bytesEqual, concat, copyBytes, ctEqual, isAllZero, lps, randomBytes, wipe, type Bytes } from './bytes.ts';
import { ENVELOPE_OVERHEAD, ENVELOPE_VERSION, hkdfLabel, importAesKey, openEnvelope, sealEnvelope } from './envelope.ts';
import { CofferCryptoError, DecryptError } from './errors.ts';
import { hpkeOpen, hpkeSeal, HPKE_OVERHEAD, type XWingKeyPair } from './hpke.ts';
import {
  LABEL_CONTENT_KEY_WRAP,
  LABEL_INBOX_KEY_WRAP,
  LABEL_KEY_HISTORY,
  LABEL_KEY_HISTORY_WRAP,
  LABEL_NAME_HASH_KEY,
  LABEL_NAME_KEY,
  LABEL_NODE_KEY,
  LABEL_NODE_KEY_WRAP,
  LABEL_ROOT_KEY,
} from './labels.ts';

/** Volume, node and revision IDs are 16 bytes. */
export const ID_SIZE = 16;
/** Node keys and content keys are 32 bytes. */
export const KEY_SIZE = 32;
/** A wrapped child node key: 61 bytes. */
export const SEALED_NODE_KEY_SIZE = ENVELOPE_OVERHEAD + KEY_SIZE;
/** A root key sealed to its owner: 1169 bytes. */
export const SEALED_ROOT_KEY_SIZE = HPKE_OVERHEAD + KEY_SIZE;
/** At most 64 earlier keys in a file's key history. */
export const MAX_KEY_HISTORY = 64;
export const SEALED_KEY_HISTORY_MIN_SIZE = ENVELOPE_OVERHEAD + 1 + 32;
export const SEALED_KEY_HISTORY_MAX_SIZE = ENVELOPE_OVERHEAD + 1 + 32 * MAX_KEY_HISTORY;

const KEY_HISTORY_VERSION = 0x01;

/** A fresh random 16-byte ID (NewID). */
export function newID(): Bytes {
  return randomBytes(ID_SIZE);
}

/** A fresh random 32-byte node key (NewNodeKey). Only for a node this client creates (rule [10]). */
export function newNodeKey(): Bytes {
  return randomBytes(KEY_SIZE);
}

/** Throws CofferCryptoError unless id is 16 bytes. */
export function checkID(what: string, id: Uint8Array): void {
  if (id.length !== ID_SIZE) throw new CofferCryptoError(`${what} is ${id.length} bytes, want ${ID_SIZE}`);
}

function checkKey(what: string, k: Uint8Array): void {
  if (k.length !== KEY_SIZE) throw new CofferCryptoError(`${what} is ${k.length} bytes, want ${KEY_SIZE}`);
}

/**
 * The sub-keys of one node key (crypto.md §11.2), derived once and kept.
 * The AES keys are non-extractable CryptoKeys.
 */
export class NodeKeys {
  private constructor(
    /** @internal node_key_wrap: wraps children's node keys. */
    readonly wrap: CryptoKey,
    /** @internal name_key: seals children's names. */
    readonly name: CryptoKey,
    /** @internal name_hash_key, raw (HMAC key of children's name hashes). */
    readonly nameHashKey: Bytes,
    /** @internal content_key_wrap: wraps this file's content keys. */
    readonly content: CryptoKey,
    /** @internal inbox_key_wrap: seals this folder's inbox seed. */
    readonly inbox: CryptoKey,
    /** @internal key_history_wrap: seals this file's earlier node keys. */
    readonly history: CryptoKey,
  ) {}

  /** Derives every sub-key of a 32-byte node key. */
  static async derive(nodeKey: Uint8Array): Promise<NodeKeys> {
    checkKey('node key', nodeKey);
    const sub = async (label: string) => {
      const raw = await hkdfLabel(nodeKey, label);
      try {
        return await importAesKey(raw);
      } finally {
        wipe(raw);
      }
    };
    const [wrap, name, content, inbox, history, nameHashKey] = await Promise.all([
      sub(LABEL_NODE_KEY_WRAP),
      sub(LABEL_NAME_KEY),
      sub(LABEL_CONTENT_KEY_WRAP),
      sub(LABEL_INBOX_KEY_WRAP),
      sub(LABEL_KEY_HISTORY_WRAP),
      hkdfLabel(nodeKey, LABEL_NAME_HASH_KEY),
    ]);
    return new NodeKeys(wrap, name, nameHashKey, content, inbox, history);
  }

  /** True if these are the sub-keys of nodeKey (compares name hash keys in constant time). */
  async isDerivedFrom(nodeKey: Uint8Array): Promise<boolean> {
    const hk = await hkdfLabel(nodeKey, LABEL_NAME_HASH_KEY);
    const same = ctEqual(hk, this.nameHashKey);
    wipe(hk);
    return same;
  }
}

/** Where a child node is: (volume, parent, node), 16 bytes each. */
export interface NodeRef {
  volume: Uint8Array;
  parent: Uint8Array;
  node: Uint8Array;
}

/** Throws unless ref names a child: three 16-byte IDs, node not its own parent. */
export function checkChildRef(ref: NodeRef): void {
  checkID('volume ID', ref.volume);
  checkID('parent ID', ref.parent);
  checkID('node ID', ref.node);
  if (bytesEqual(ref.parent, ref.node)) throw new CofferCryptoError('node is its own parent');
}

/** LP(volume) || LP(parent) || LP(node). */
export function refFields(ref: NodeRef): Bytes {
  return lps(ref.volume, ref.parent, ref.node);
}

/** WrapNodeKey: seals a child's node key under its parent's node_key_wrap (61 bytes). */
export async function wrapNodeKey(parent: NodeKeys, ref: NodeRef, child: Uint8Array, nonce?: Uint8Array): Promise<Bytes> {
  checkChildRef(ref);
  checkKey('child node key', child);
  return sealEnvelope(parent.wrap, LABEL_NODE_KEY, refFields(ref), child, nonce);
}

/**
 * UnwrapNodeKey: opens a wrapped child key under the parent's keys and the
 * child's NodeRef. Every failure to open (another folder, node or volume,
 * any changed byte, not 32 bytes) is DecryptError.
 */
export async function unwrapNodeKey(parent: NodeKeys, ref: NodeRef, sealed: Uint8Array): Promise<Bytes> {
  checkChildRef(ref);
  const pt = await openEnvelope(parent.wrap, LABEL_NODE_KEY, refFields(ref), sealed);
  if (pt.length !== KEY_SIZE) {
    wipe(pt);
    throw new DecryptError();
  }
  return pt;
}

/** SealRootKey: seals a volume's root key to its owner's X-Wing public key (1169 bytes). */
export async function sealRootKey(ownerPublic: Uint8Array, volume: Uint8Array, node: Uint8Array, key: Uint8Array): Promise<Bytes> {
  checkID('volume ID', volume);
  checkID('node ID', node);
  checkKey('root key', key);
  return hpkeSeal(ownerPublic, LABEL_ROOT_KEY, lps(volume, node), key);
}

/**
 * OpenRootKey: opens a root key with the owner's X-Wing key pair. Trust it
 * only as the sealed_key of a root record verified under the owner's key
 * (§11.4). Every failure is DecryptError.
 */
export async function openRootKey(owner: XWingKeyPair, volume: Uint8Array, node: Uint8Array, sealed: Uint8Array): Promise<Bytes> {
  checkID('volume ID', volume);
  checkID('node ID', node);
  const pt = await hpkeOpen(owner, LABEL_ROOT_KEY, lps(volume, node), sealed);
  if (pt.length !== KEY_SIZE) {
    wipe(pt);
    throw new DecryptError();
  }
  return pt;
}

/** True if n is the size of a sealed key history of 1 to 64 keys (62 + 32k). */
export function isSealedKeyHistorySize(n: number): boolean {
  return n >= SEALED_KEY_HISTORY_MIN_SIZE && n <= SEALED_KEY_HISTORY_MAX_SIZE && (n - SEALED_KEY_HISTORY_MIN_SIZE) % 32 === 0;
}

function checkKeyList(keys: Uint8Array[]): string | undefined {
  if (keys.length === 0 || keys.length > MAX_KEY_HISTORY) return `${keys.length} earlier keys, want 1 to ${MAX_KEY_HISTORY}`;
  for (let i = 0; i < keys.length; i++) {
    if (keys[i]!.length !== KEY_SIZE) return `earlier key ${i} is not ${KEY_SIZE} bytes`;
    if (isAllZero(keys[i]!)) return `earlier key ${i} is all zeros`;
    for (let j = 0; j < i; j++) if (ctEqual(keys[j]!, keys[i]!)) return `earlier keys ${j} and ${i} are the same key`;
  }
  return undefined;
}

/**
 * SealKeyHistory: seals a file's earlier node keys (newest first) under its
 * current keys. Refuses an empty list, more than 64 keys, an all-zero key,
 * a key listed twice and the current key itself.
 */
export async function sealKeyHistory(
  current: NodeKeys,
  volume: Uint8Array,
  node: Uint8Array,
  previous: Uint8Array[],
  nonce?: Uint8Array,
): Promise<Bytes> {
  checkID('volume ID', volume);
  checkID('node ID', node);
  const bad = checkKeyList(previous);
  if (bad) throw new CofferCryptoError(`seal key history: ${bad}`);
  for (let i = 0; i < previous.length; i++) {
    if (await current.isDerivedFrom(previous[i]!)) throw new CofferCryptoError(`seal key history: earlier key ${i} is the current key`);
  }
  const pt = concat(Uint8Array.of(KEY_HISTORY_VERSION), ...previous);
  try {
    return await sealEnvelope(current.history, LABEL_KEY_HISTORY, lps(volume, node), pt, nonce);
  } finally {
    wipe(pt);
  }
}

/**
 * OpenKeyHistory: opens a file's key history under its current keys and
 * returns the earlier keys, newest first. Every failure (size, version,
 * AES-GCM, plaintext form, an all-zero or repeated key) is DecryptError.
 */
export async function openKeyHistory(current: NodeKeys, volume: Uint8Array, node: Uint8Array, sealed: Uint8Array): Promise<Bytes[]> {
  checkID('volume ID', volume);
  checkID('node ID', node);
  if (!isSealedKeyHistorySize(sealed.length) && (sealed.length === 0 || sealed[0] === ENVELOPE_VERSION)) throw new DecryptError();
  const pt = await openEnvelope(current.history, LABEL_KEY_HISTORY, lps(volume, node), sealed);
  try {
    if (pt.length < 1 + 32 || (pt.length - 1) % 32 !== 0 || pt[0] !== KEY_HISTORY_VERSION) throw new DecryptError();
    const keys: Bytes[] = [];
    for (let off = 1; off < pt.length; off += 32) keys.push(copyBytes(pt.subarray(off, off + 32)));
    if (checkKeyList(keys)) {
      keys.forEach(wipe);
      throw new DecryptError();
    }
    return keys;
  } finally {
    wipe(pt);
  }
}
