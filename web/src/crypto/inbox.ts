/**
 * Inbox keys and inbox drops (crypto.md §13.6, §13.9).
 *
 *   inbox key pair = X-Wing key pair of a 32-byte seed
 *   sealed seed    = envelope under inbox_key_wrap of the folder,
 *                    AD = tagged("coffer/v1/inbox-key", LP(volume) || LP(node) || inbox_public)
 *   sealed drop    = 0x01 || HPKE.Seal(inbox_public,
 *                      info = tagged("coffer/v1/inbox-drop", LP(volume) || LP(parent) || LP(node)),
 *                      plain = 0x01 || node key (32) || u16(len) || NFC name || zeros)
 */

import { concat, copyBytes, ctEqual, isAllZero, lps, randomBytes, wipe, type Bytes } from './bytes.ts';
import { openEnvelope, sealEnvelope } from './envelope.ts';
import { BadNameError, CofferCryptoError, DecryptError } from './errors.ts';
import { hpkeOpen, hpkeSeal, HPKE_VERSION, xwingKeyPair, XWING_PUBLIC_KEY_SIZE, type XWingKeyPair } from './hpke.ts';
import { LABEL_INBOX_DROP, LABEL_INBOX_KEY } from './labels.ts';
import { namePlaintext, normalizeName, parseNamePlaintext } from './names.ts';
import { isSealedInboxDropSize, KIND_FILE, type NodeRecord } from './record.ts';
import { checkChildRef, checkID, KEY_SIZE, refFields, type NodeKeys, type NodeRef } from './tree.ts';

export { isSealedInboxDropSize, SEALED_INBOX_DROP_MAX_SIZE, SEALED_INBOX_DROP_MIN_SIZE } from './record.ts';

const INBOX_DROP_VERSION = 0x01;

/** An inbox key pair (the X-Wing key pair of a 32-byte seed). */
export type InboxKey = XWingKeyPair;

/** InboxKeyFromSeed: the inbox key pair of a 32-byte seed. */
export function inboxKeyFromSeed(seed: Uint8Array): Promise<InboxKey> {
  return xwingKeyPair(seed);
}

/** NewInboxKey: a fresh random inbox key pair. */
export function newInboxKey(): Promise<InboxKey> {
  return xwingKeyPair(randomBytes(32));
}

/** SealInboxKey: seals an inbox seed under the folder's keys, bound to its public key (61 bytes). */
export async function sealInboxKey(folder: NodeKeys, volume: Uint8Array, node: Uint8Array, inbox: InboxKey, nonce?: Uint8Array): Promise<Bytes> {
  checkID('volume ID', volume);
  checkID('node ID', node);
  return sealEnvelope(folder.inbox, LABEL_INBOX_KEY, concat(lps(volume, node), inbox.publicKey), inbox.seed, nonce);
}

/**
 * OpenInboxKey: opens a folder's sealed inbox seed and checks that its
 * public key is inboxPublic (from the verified member list). Every failure
 * is DecryptError.
 */
export async function openInboxKey(folder: NodeKeys, volume: Uint8Array, node: Uint8Array, inboxPublic: Uint8Array, sealed: Uint8Array): Promise<InboxKey> {
  checkID('volume ID', volume);
  checkID('node ID', node);
  if (inboxPublic.length !== XWING_PUBLIC_KEY_SIZE) throw new DecryptError();
  const seed = await openEnvelope(folder.inbox, LABEL_INBOX_KEY, concat(lps(volume, node), inboxPublic), sealed);
  try {
    if (seed.length !== 32) throw new DecryptError();
    const k = await inboxKeyFromSeed(seed);
    if (!ctEqual(k.publicKey, inboxPublic)) throw new DecryptError();
    return k;
  } finally {
    wipe(seed);
  }
}

/**
 * SealInboxDrop: seals a new child's node key and name to a folder's
 * inbox public key (taken from a verified member list or link payload,
 * never from the server). ref = (volume, folder, new node). The name is
 * normalized and refused as sealName does (BadNameError); an all-zero key
 * is refused. Randomized; 1170 + 32k bytes.
 */
export async function sealInboxDrop(inboxPublic: Uint8Array, ref: NodeRef, nodeKey: Uint8Array, name: string): Promise<Bytes> {
  checkChildRef(ref);
  const nfc = normalizeName(name);
  if (nodeKey.length !== KEY_SIZE) throw new CofferCryptoError('node key must be 32 bytes');
  if (isAllZero(nodeKey)) throw new CofferCryptoError('seal inbox drop: all-zero node key');
  if (inboxPublic.length !== XWING_PUBLIC_KEY_SIZE) {
    throw new CofferCryptoError(`seal inbox drop: inbox public key is ${inboxPublic.length} bytes, want ${XWING_PUBLIC_KEY_SIZE}`);
  }
  const pt = concat(Uint8Array.of(INBOX_DROP_VERSION), nodeKey, namePlaintext(nfc));
  try {
    return await hpkeSeal(inboxPublic, LABEL_INBOX_DROP, refFields(ref), pt);
  } finally {
    wipe(pt);
  }
}

/**
 * OpenInboxDrop: opens a drop with the folder's inbox key under the
 * record's NodeRef. Every failure is DecryptError (a non-canonical name:
 * DecryptError whose cause is a BadNameError).
 */
export async function openInboxDrop(inbox: InboxKey, ref: NodeRef, sealed: Uint8Array): Promise<{ nodeKey: Bytes; name: string }> {
  checkChildRef(ref);
  if (!isSealedInboxDropSize(sealed.length) && (sealed.length === 0 || sealed[0] === HPKE_VERSION)) throw new DecryptError();
  const pt = await hpkeOpen(inbox, LABEL_INBOX_DROP, refFields(ref), sealed);
  try {
    if (pt.length < 1 + 32 || pt[0] !== INBOX_DROP_VERSION) throw new DecryptError();
    let name: string;
    try {
      name = parseNamePlaintext(pt.subarray(33));
    } catch (e) {
      if (e instanceof BadNameError) throw new DecryptError('decryption failed: invalid name', { cause: e });
      throw e;
    }
    return { nodeKey: copyBytes(pt.subarray(1, 33)), name };
  } finally {
    wipe(pt);
  }
}

/**
 * The drop record of a new file F in folder T (13.9 step 5), unsigned:
 * kind file, a random name hash, no sealed name, the sealed drop as its
 * key, version 1, and the head revision (ID, seq 1 and digest) if given.
 */
export function newDropRecord(opts: {
  volume: Uint8Array;
  parent: Uint8Array;
  node: Uint8Array;
  sealedDrop: Uint8Array;
  author: string;
  revision?: Uint8Array;
  revisionDigest?: Uint8Array;
}): NodeRecord {
  const hasHead = !!opts.revision && opts.revision.length > 0;
  return {
    volume: opts.volume,
    node: opts.node,
    parent: opts.parent,
    kind: KIND_FILE,
    nameHash: randomBytes(32),
    sealedName: new Uint8Array(0),
    sealedKey: opts.sealedDrop,
    author: opts.author,
    version: 1,
    revision: hasHead ? opts.revision! : new Uint8Array(0),
    revisionSeq: hasHead ? 1 : 0,
    revisionDigest: hasHead && opts.revisionDigest ? opts.revisionDigest : new Uint8Array(32),
  };
}

export type { XWingKeyPair };
