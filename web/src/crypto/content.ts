/**
 * File content (crypto.md §12.1–12.3): wrapped content keys, Padmé, blocks
 * and sealed attributes.
 *
 *   content key  = envelope under content_key_wrap of the file's node key,
 *                  AD = tagged("coffer/v1/content-key", LP(volume) || LP(node) || LP(revision))
 *   block        = 0x01 || nonce (12, random) || AES-256-GCM(content key, padded block,
 *                  AD = tagged("coffer/v1/block", LP(volume) || LP(node) || LP(revision) || u64(index) || u8(last)))
 *   block_id     = SHA-256(block)
 *   attrs        = envelope under the content key, AD = tagged("coffer/v1/attrs", ...IDs),
 *                  plain = 0x01 || u64(size) || i64(mod_time ns) || sha256 (49 bytes)
 *   origin key   = envelope under the content key of a revision that re-uses blocks
 *                  (§12.6), AD = tagged("coffer/v1/origin-key", LP(volume) || LP(node)
 *                  || LP(revision) || LP(origin_revision)), plain = the origin's content key
 */

import { bytesEqual, concat, copyBytes, ctEqual, i64, isAllZero, lps, randomBytes, readI64, readU64, tagged, u64, u8, wipe, type Bytes } from './bytes.ts';
import {
  ENVELOPE_OVERHEAD,
  gcmOpen,
  gcmSeal,
  importAesKey,
  NONCE_SIZE,
  openEnvelope,
  sealEnvelope,
  sha256Async,
  TAG_SIZE,
  checkVersionByte,
} from './envelope.ts';
import { CofferCryptoError, DecryptError } from './errors.ts';
import { LABEL_ATTRS, LABEL_BLOCK, LABEL_CONTENT_KEY, LABEL_ORIGIN_KEY } from './labels.ts';
import { checkID, KEY_SIZE, NodeKeys, openKeyHistory } from './tree.ts';

/** 4 MiB: every block but the last holds exactly this many bytes. */
export const BLOCK_SIZE = 4 * 1024 * 1024;
/** version + nonce + tag = 29 bytes per block. */
export const BLOCK_OVERHEAD = 1 + NONCE_SIZE + TAG_SIZE;
export const SEALED_CONTENT_KEY_SIZE = ENVELOPE_OVERHEAD + KEY_SIZE;
export const ATTRS_SIZE = 1 + 8 + 8 + 32;
export const SEALED_ATTRS_SIZE = ENVELOPE_OVERHEAD + ATTRS_SIZE;
/** A sealed origin key (§12.6): an envelope of a content key, 61 bytes. */
export const SEALED_ORIGIN_KEY_SIZE = ENVELOPE_OVERHEAD + KEY_SIZE;
/** The manifest's block count is 32 bits. */
export const MAX_BLOCKS = 0xffffffff;

const BLOCK_VERSION = 0x01;
const ATTRS_VERSION = 0x01;

/** A fresh random 32-byte content key (one per revision, never reused). */
export function newContentKey(): Bytes {
  return randomBytes(KEY_SIZE);
}

function revisionFields(volume: Uint8Array, node: Uint8Array, revision: Uint8Array): Bytes {
  checkID('volume ID', volume);
  checkID('node ID', node);
  checkID('revision ID', revision);
  return lps(volume, node, revision);
}

/** SealContentKey: wraps a revision's content key under the file's current keys (61 bytes). */
export async function sealContentKey(
  file: NodeKeys,
  volume: Uint8Array,
  node: Uint8Array,
  revision: Uint8Array,
  contentKey: Uint8Array,
  nonce?: Uint8Array,
): Promise<Bytes> {
  if (contentKey.length !== KEY_SIZE) throw new CofferCryptoError('content key must be 32 bytes');
  return sealEnvelope(file.content, LABEL_CONTENT_KEY, revisionFields(volume, node, revision), contentKey, nonce);
}

/** OpenContentKey under one set of node keys; every failure is DecryptError. */
export async function openContentKey(file: NodeKeys, volume: Uint8Array, node: Uint8Array, revision: Uint8Array, sealed: Uint8Array): Promise<Bytes> {
  const pt = await openEnvelope(file.content, LABEL_CONTENT_KEY, revisionFields(volume, node, revision), sealed);
  if (pt.length !== KEY_SIZE) {
    wipe(pt);
    throw new DecryptError();
  }
  return pt;
}

/**
 * Opens a revision's content key under the file's current keys, then under
 * each key of its key history in order (crypto.md §12.1). Returns the key
 * and which key opened it (0 = current, i = history key i - 1). DecryptError
 * if none does (or the history does not open).
 */
export async function openContentKeyWithHistory(
  current: NodeKeys,
  volume: Uint8Array,
  node: Uint8Array,
  revision: Uint8Array,
  sealed: Uint8Array,
  keyHistory?: Uint8Array,
): Promise<{ contentKey: Bytes; openedWith: number }> {
  try {
    return { contentKey: await openContentKey(current, volume, node, revision, sealed), openedWith: 0 };
  } catch (e) {
    if (!(e instanceof DecryptError) || !keyHistory || keyHistory.length === 0) throw e;
  }
  const keys = await openKeyHistory(current, volume, node, keyHistory);
  try {
    for (let i = 0; i < keys.length; i++) {
      const nk = await NodeKeys.derive(keys[i]!);
      try {
        return { contentKey: await openContentKey(nk, volume, node, revision, sealed), openedWith: i + 1 };
      } catch (e) {
        if (!(e instanceof DecryptError)) throw e;
      }
    }
  } finally {
    keys.forEach(wipe);
  }
  throw new DecryptError();
}

function originFields(volume: Uint8Array, node: Uint8Array, revision: Uint8Array, origin: Uint8Array): Bytes {
  revisionFields(volume, node, revision);
  checkID('origin revision ID', origin);
  if (bytesEqual(origin, revision)) throw new CofferCryptoError('a revision is not its own origin');
  return lps(volume, node, revision, origin);
}

/**
 * SealOriginKey (§12.6): seals originKey, the content key of revision
 * `origin`, under contentKey, the content key of revision `revision` of
 * the same file that re-uses origin's blocks (61 bytes).
 */
export async function sealOriginKey(
  contentKey: Uint8Array,
  volume: Uint8Array,
  node: Uint8Array,
  revision: Uint8Array,
  origin: Uint8Array,
  originKey: Uint8Array,
  nonce?: Uint8Array,
): Promise<Bytes> {
  if (contentKey.length !== KEY_SIZE || originKey.length !== KEY_SIZE) throw new CofferCryptoError('content keys must be 32 bytes');
  if (isAllZero(originKey) || isAllZero(contentKey) || bytesEqual(originKey, contentKey)) {
    throw new CofferCryptoError('a content key is unset, or is the revision\'s own');
  }
  return sealEnvelope(contentKey, LABEL_ORIGIN_KEY, originFields(volume, node, revision, origin), originKey, nonce);
}

/**
 * OpenOriginKey (§12.6): every failure, including a key that would be the
 * revision's own or all zeros and an origin equal to the revision, is
 * DecryptError.
 */
export async function openOriginKey(
  contentKey: Uint8Array,
  volume: Uint8Array,
  node: Uint8Array,
  revision: Uint8Array,
  origin: Uint8Array,
  sealed: Uint8Array,
): Promise<Bytes> {
  let fields: Bytes;
  try {
    fields = originFields(volume, node, revision, origin);
  } catch {
    throw new DecryptError();
  }
  const pt = await openEnvelope(contentKey, LABEL_ORIGIN_KEY, fields, sealed);
  if (pt.length !== KEY_SIZE || ctEqual(pt, contentKey) || isAllZero(pt)) {
    wipe(pt);
    throw new DecryptError();
  }
  return pt;
}

/** Bit length of a positive integer below 2^53. */
function bitLen(n: number): number {
  let e = 0;
  while (2 ** e <= n) e++;
  return e;
}

/** Padmé without the cap: with E = floor(log2 n), S = floor(log2 E) + 1, round n up to a multiple of 2^(E-S). */
function padmeRaw(n: number): number {
  if (n < 2) return n;
  const E = bitLen(n) - 1;
  const S = bitLen(E);
  const m = 2 ** (E - S);
  return Math.ceil(n / m) * m;
}

/** padme(n) capped at limit (default BLOCK_SIZE): the padded length of a last block of n bytes; 0 for n <= 0. */
export function padmeLen(n: number, limit = BLOCK_SIZE): number {
  if (n <= 0) return 0;
  if (n >= limit) return limit;
  return Math.min(padmeRaw(n), limit);
}

/** The sealed size of a last block of n plaintext bytes (29 + padme(n)); 0 if n is out of 1..BLOCK_SIZE. */
export function sealedBlockSize(n: number): number {
  if (n < 1 || n > BLOCK_SIZE) return 0;
  return BLOCK_OVERHEAD + padmeLen(n);
}

/** SHA-256 of a sealed block: its ID. */
export function blockID(block: Uint8Array): Promise<Bytes> {
  return sha256Async(block);
}

/**
 * A BlockSealer as plain data: the content key as a non-extractable
 * CryptoKey, the blocks' AD prefix and the block size. It survives
 * structured cloning (postMessage), so that a worker can open blocks with
 * the same key without the raw key bytes ever reaching JavaScript there.
 */
export interface BlockSealerParams {
  key: CryptoKey;
  adPrefix: Bytes;
  blockSize: number;
}

/**
 * Seals and opens the blocks of one revision (BlockSealer). blockSize is
 * BLOCK_SIZE except in test vectors (tiny_blocks use 64).
 */
export class BlockSealer {
  private constructor(
    private readonly key: CryptoKey,
    private readonly adPrefix: Bytes,
    private readonly blockSize: number,
  ) {}

  static async create(contentKey: Uint8Array, volume: Uint8Array, node: Uint8Array, revision: Uint8Array, blockSize = BLOCK_SIZE): Promise<BlockSealer> {
    const fields = revisionFields(volume, node, revision);
    return new BlockSealer(await importAesKey(contentKey), tagged(LABEL_BLOCK, fields), blockSize);
  }

  /** This sealer as structured-cloneable data (see BlockSealerParams). */
  get params(): BlockSealerParams {
    return { key: this.key, adPrefix: this.adPrefix, blockSize: this.blockSize };
  }

  /** The sealer that params describe (as made by another thread's BlockSealer.params). */
  static fromParams(p: BlockSealerParams): BlockSealer {
    const alg = p.key?.algorithm as { name?: string; length?: number } | undefined;
    if (alg?.name !== 'AES-GCM' || alg.length !== 256 || !(p.adPrefix instanceof Uint8Array) || !Number.isSafeInteger(p.blockSize) || p.blockSize < 1) {
      throw new CofferCryptoError('invalid block sealer parameters');
    }
    return new BlockSealer(p.key, p.adPrefix, p.blockSize);
  }

  private ad(index: number, last: boolean): Bytes {
    return concat(this.adPrefix, u64(index), u8(last ? 1 : 0));
  }

  /**
   * Seals block index: a middle block must be exactly blockSize bytes, the
   * last 1 to blockSize bytes (zero-padded to padme). Nonces are random
   * unless given (test vectors only).
   */
  async seal(plaintext: Uint8Array, index: number, last: boolean, nonce?: Uint8Array): Promise<Bytes> {
    const n = plaintext.length;
    if (last && (n < 1 || n > this.blockSize)) throw new CofferCryptoError(`seal block ${index}: last block has ${n} bytes, want 1 to ${this.blockSize}`);
    if (!last && n !== this.blockSize) throw new CofferCryptoError(`seal block ${index}: block has ${n} bytes, want ${this.blockSize}`);
    const padded = padmeLen(n, this.blockSize);
    let body: Uint8Array = plaintext;
    if (padded !== n) {
      body = new Uint8Array(padded);
      body.set(plaintext);
    }
    const nc = nonce ? copyBytes(nonce) : randomBytes(NONCE_SIZE);
    if (nc.length !== NONCE_SIZE) throw new CofferCryptoError('block nonce must be 12 bytes');
    const ct = await gcmSeal(this.key, nc, body, this.ad(index, last));
    if (body !== plaintext) wipe(body);
    return concat(Uint8Array.of(BLOCK_VERSION), nc, ct);
  }

  /**
   * Opens block index (index and last come from the signed manifest, never
   * from the server). Returns the padded plaintext; keep lastBlockLen()
   * bytes of the last block. Every failure is DecryptError.
   */
  async open(block: Uint8Array, index: number, last: boolean): Promise<Bytes> {
    checkVersionByte(block, BLOCK_VERSION, 'block');
    const n = block.length - BLOCK_OVERHEAD;
    if (n < 1 || n > this.blockSize || (!last && n !== this.blockSize) || (last && padmeLen(n, this.blockSize) !== n)) {
      throw new DecryptError();
    }
    return gcmOpen(this.key, block.subarray(1, 1 + NONCE_SIZE), block.subarray(1 + NONCE_SIZE), this.ad(index, last));
  }
}

/** A revision's attributes. */
export interface Attrs {
  /** Plaintext length in bytes. */
  size: bigint;
  /** Modification time, Unix nanoseconds. */
  modTime: bigint;
  /** SHA-256 of the whole plaintext. */
  sha256: Uint8Array;
}

/** The number of blocks a file of this size has: ceil(size / BLOCK_SIZE); -1 if above MAX_BLOCKS. */
export function blockCount(size: bigint | number): number {
  const s = BigInt(size);
  const n = (s + BigInt(BLOCK_SIZE) - 1n) / BigInt(BLOCK_SIZE);
  return n > BigInt(MAX_BLOCKS) ? -1 : Number(n);
}

/** The plaintext length of the last block (0 for an empty file). */
export function lastBlockLen(size: bigint | number): number {
  const s = BigInt(size);
  if (s === 0n) return 0;
  const r = Number(s % BigInt(BLOCK_SIZE));
  return r === 0 ? BLOCK_SIZE : r;
}

function attrsPlaintext(a: Attrs): Bytes {
  if (a.sha256.length !== 32) throw new CofferCryptoError('attrs sha256 must be 32 bytes');
  return concat(u8(ATTRS_VERSION), u64(a.size), i64(a.modTime), a.sha256);
}

/** SealAttrs: seals a revision's attributes under its content key (78 bytes). */
export async function sealAttrs(contentKey: Uint8Array, volume: Uint8Array, node: Uint8Array, revision: Uint8Array, a: Attrs, nonce?: Uint8Array): Promise<Bytes> {
  return sealEnvelope(contentKey, LABEL_ATTRS, revisionFields(volume, node, revision), attrsPlaintext(a), nonce);
}

/** OpenAttrs: every failure (including a plaintext not 49 bytes or not version 0x01) is DecryptError. */
export async function openAttrs(contentKey: Uint8Array, volume: Uint8Array, node: Uint8Array, revision: Uint8Array, sealed: Uint8Array): Promise<Attrs> {
  const pt = await openEnvelope(contentKey, LABEL_ATTRS, revisionFields(volume, node, revision), sealed);
  if (pt.length !== ATTRS_SIZE) throw new DecryptError();
  if (pt[0] !== ATTRS_VERSION) throw new DecryptError(`attrs: unsupported version 0x${pt[0]!.toString(16).padStart(2, '0')}`, { unsupportedVersion: pt[0]! });
  return { size: readU64(pt, 1), modTime: readI64(pt, 9), sha256: copyBytes(pt.subarray(17, 49)) };
}
