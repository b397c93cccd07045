/**
 * Names (crypto.md §11.5): normalization, sealed names and name hashes.
 *
 *   plain  = u16(len(nfc)) || nfc || zeros to the next multiple of 32 (32..288 bytes)
 *   sealed = envelope under name_key of the parent,
 *            AD = tagged("coffer/v1/node-name", LP(volume) || LP(parent) || LP(node))
 *   name_hash = HMAC-SHA256(name_hash_key of the parent, NFC(name))
 *
 * Error messages say what is wrong and where, never the name.
 */

import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { fromUtf8, readU16, u16, utf8, wipe, type Bytes } from './bytes.ts';
import { ENVELOPE_OVERHEAD, openEnvelope, sealEnvelope } from './envelope.ts';
import { BadNameError } from './errors.ts';
import { LABEL_NODE_NAME } from './labels.ts';
import { checkChildRef, refFields, type NodeKeys, type NodeRef } from './tree.ts';

/** The longest name, in UTF-8 bytes after NFC. */
export const MAX_NAME_LEN = 255;
/** Names are padded to 32-byte buckets. */
export const NAME_PAD = 32;
/** The padded plaintext of the longest name: 288 bytes. */
export const MAX_NAME_PLAINTEXT = Math.ceil((2 + MAX_NAME_LEN) / NAME_PAD) * NAME_PAD;
export const MIN_SEALED_NAME_SIZE = ENVELOPE_OVERHEAD + NAME_PAD;
export const MAX_SEALED_NAME_SIZE = ENVELOPE_OVERHEAD + MAX_NAME_PLAINTEXT;

/** True if n is a sealed name's size: 61 + 32k, k = 0..8. */
export function isSealedNameSize(n: number): boolean {
  return n >= MIN_SEALED_NAME_SIZE && n <= MAX_SEALED_NAME_SIZE && (n - ENVELOPE_OVERHEAD) % NAME_PAD === 0;
}

function utf8Len(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/**
 * NormalizeName: returns the NFC form of a node name, or throws
 * BadNameError if it cannot be one: not valid UTF-8 (for a string: a lone
 * surrogate), containing '/', NUL or another C0 control (U+0001..U+001F),
 * or, after NFC, empty, "." or "..", or longer than 255 UTF-8 bytes.
 */
export function normalizeName(name: string | Uint8Array): string {
  let s: string;
  if (typeof name === 'string') {
    s = name;
  } else {
    try {
      s = fromUtf8(name);
    } catch {
      throw new BadNameError('invalid name: not valid UTF-8');
    }
  }
  let byte = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let cp = c;
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) throw new BadNameError(`invalid name: not valid UTF-8 (byte ${byte})`);
      cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      throw new BadNameError(`invalid name: not valid UTF-8 (byte ${byte})`);
    }
    if (cp === 0x2f) throw new BadNameError(`invalid name: contains '/' (byte ${byte})`);
    if (cp === 0) throw new BadNameError(`invalid name: contains NUL (byte ${byte})`);
    if (cp < 0x20) {
      throw new BadNameError(`invalid name: contains control character U+${cp.toString(16).toUpperCase().padStart(4, '0')} (byte ${byte})`);
    }
    byte += utf8Len(cp);
  }
  const n = s.normalize('NFC');
  if (n === '') throw new BadNameError('invalid name: empty');
  if (n === '.' || n === '..') throw new BadNameError(`invalid name: "${n}" is reserved`);
  const len = utf8(n).length;
  if (len > MAX_NAME_LEN) throw new BadNameError(`invalid name: ${len} bytes after NFC, limit ${MAX_NAME_LEN}`);
  return n;
}

/** u16(len) || name || zeros, padded to the next multiple of 32 bytes. name must be normalized. */
export function namePlaintext(nfc: string): Bytes {
  const b = utf8(nfc);
  const out = new Uint8Array(Math.ceil((2 + b.length) / NAME_PAD) * NAME_PAD);
  out.set(u16(b.length), 0);
  out.set(b, 2);
  return out;
}

/**
 * Parses a padded name plaintext strictly: the right bucket, zero padding,
 * a length of at most 255, and a name that normalizeName returns
 * unchanged. Throws BadNameError (describing the encoding only).
 */
export function parseNamePlaintext(pt: Uint8Array): string {
  if (pt.length < 2) throw new BadNameError('invalid name: no length field');
  const n = readU16(pt);
  if (n > MAX_NAME_LEN || 2 + n > pt.length) throw new BadNameError('invalid name: length field out of range');
  if (pt.length !== Math.ceil((2 + n) / NAME_PAD) * NAME_PAD) throw new BadNameError('invalid name: not padded to the next multiple of 32 bytes');
  for (let i = 2 + n; i < pt.length; i++) if (pt[i] !== 0) throw new BadNameError('invalid name: non-zero padding');
  let name: string;
  try {
    name = fromUtf8(pt.subarray(2, 2 + n));
  } catch {
    throw new BadNameError('invalid name: not a valid name in NFC');
  }
  let norm: string;
  try {
    norm = normalizeName(name);
  } catch {
    throw new BadNameError('invalid name: not a valid name in NFC');
  }
  if (norm !== name) throw new BadNameError('invalid name: not a valid name in NFC');
  return name;
}

/** SealName: normalizes name (BadNameError if refused) and seals it under the parent's name key. */
export async function sealName(parent: NodeKeys, ref: NodeRef, name: string, nonce?: Uint8Array): Promise<Bytes> {
  checkChildRef(ref);
  const pt = namePlaintext(normalizeName(name));
  try {
    return await sealEnvelope(parent.name, LABEL_NODE_NAME, refFields(ref), pt, nonce);
  } finally {
    wipe(pt);
  }
}

/**
 * OpenName: opens a sealed name under the parent's keys and the child's
 * NodeRef. DecryptError if it does not open; BadNameError if it opens but
 * is not canonical.
 */
export async function openName(parent: NodeKeys, ref: NodeRef, sealed: Uint8Array): Promise<string> {
  checkChildRef(ref);
  const pt = await openEnvelope(parent.name, LABEL_NODE_NAME, refFields(ref), sealed);
  try {
    return parseNamePlaintext(pt);
  } finally {
    wipe(pt);
  }
}

/**
 * NameHash: HMAC-SHA256(name_hash_key of the parent, NFC(name)), 32 bytes.
 * Like Go it normalizes without refusing; pass a name normalizeName accepts.
 */
export function nameHash(parent: NodeKeys, name: string): Bytes {
  return hmac(sha256, parent.nameHashKey, utf8(name.normalize('NFC'))) as Bytes;
}
