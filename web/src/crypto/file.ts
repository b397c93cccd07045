/**
 * Reading and writing one revision of a file, block by block (crypto.md
 * §12.4 "Reading a file" and "Writing"), without holding the whole file.
 *
 * RevisionReader: head check, content key (current key or history),
 * attributes, manifest check, origin keys (§12.6); then each block in
 * order: ID check, open (under the key of the revision that sealed it),
 * trim, and at the end the whole-plaintext SHA-256.
 *
 * BlockOpener: the per-block part of reading (ID check, open, trim) on its
 * own, with no state, so that blocks can be checked and opened in any
 * order and on other threads while the reader hashes them in order.
 *
 * RevisionWriter: a fresh content key; blocks sealed in order with random
 * nonces; attributes and the wrapped content key; the unsigned revision
 * record.
 */

import { createSHA256, type IHasher } from 'hash-wasm';
import { bytesEqual, ctEqual, isAllZero, toHex, wipe, type Bytes } from './bytes.ts';
import {
  BLOCK_SIZE,
  BlockSealer,
  blockCount,
  blockID,
  lastBlockLen,
  newContentKey,
  openAttrs,
  openContentKeyWithHistory,
  openOriginKey,
  sealAttrs,
  sealContentKey,
  type Attrs,
  type BlockSealerParams,
} from './content.ts';
import { CofferCryptoError, DecryptError } from './errors.ts';
import { type NodeRecord } from './record.ts';
import { checkManifest, matchesHead, validateRevisionRecord, type RevisionRecord } from './revision.ts';
import { newID, type NodeKeys } from './tree.ts';

/**
 * A BlockOpener as plain data (structured-cloneable): the block sealer,
 * the number of blocks and the plaintext size, all from a revision whose
 * record and attributes RevisionReader.open checked.
 */
export interface BlockOpenerParams {
  sealer: BlockSealerParams;
  blockCount: number;
  size: bigint;
  /** For a revision that re-uses blocks (§12.6): its origins' sealers, origin j at j - 1. */
  origins?: BlockSealerParams[];
  /** With origins: per block, 0 (sealer) or j (origins[j - 1]). */
  blockOrigins?: number[];
}

/**
 * The block sealers of revision r (§12.6): [0] its own, under contentKey,
 * then one per origin, under the origin's content key (opened with
 * contentKey) and with the origin's revision ID, so that block i opens
 * with sealers[r.blockOrigins[i]]. r must be valid (BadRecordError);
 * an origin key that does not open is DecryptError. blockSize is
 * BLOCK_SIZE except in test vectors.
 */
export async function revisionSealers(contentKey: Uint8Array, r: RevisionRecord, blockSize = BLOCK_SIZE): Promise<BlockSealer[]> {
  validateRevisionRecord(r);
  const sealers = [await BlockSealer.create(contentKey, r.volume, r.node, r.revision, blockSize)];
  for (const o of r.origins ?? []) {
    const key = await openOriginKey(contentKey, r.volume, r.node, r.revision, o.revision, o.sealedKey);
    try {
      sealers.push(await BlockSealer.create(key, r.volume, r.node, o.revision, blockSize));
    } finally {
      wipe(key);
    }
  }
  return sealers;
}

/**
 * Checks and opens single blocks of one revision (crypto.md §12.4 step 4),
 * in any order: what a worker thread runs. It keeps no state; the
 * whole-file SHA-256 (step 5) stays with the RevisionReader, which must
 * see every plaintext in order (RevisionReader.addBlock).
 */
export class BlockOpener {
  private constructor(
    /** [0] the revision's own sealer, [j] origin j's. */
    private readonly sealers: BlockSealer[],
    /** Per block, the index in sealers; undefined if every block is the revision's own. */
    private readonly blockOrigins: number[] | undefined,
    private readonly count: number,
    private readonly size: bigint,
  ) {}

  /** The opener that params describe (BlockOpener.params, possibly from another thread). */
  static fromParams(p: BlockOpenerParams): BlockOpener {
    if (!Number.isSafeInteger(p.blockCount) || p.blockCount < 0 || typeof p.size !== 'bigint' || blockCount(p.size) !== p.blockCount) {
      throw new CofferCryptoError('invalid block opener parameters');
    }
    const sealers = [BlockSealer.fromParams(p.sealer), ...(p.origins ?? []).map((o) => BlockSealer.fromParams(o))];
    let per: number[] | undefined;
    if (sealers.length > 1) {
      per = p.blockOrigins;
      if (!Array.isArray(per) || per.length !== p.blockCount || !per.every((o) => Number.isSafeInteger(o) && o >= 0 && o < sealers.length)) {
        throw new CofferCryptoError('invalid block opener parameters');
      }
      per = [...per];
    } else if (p.blockOrigins && p.blockOrigins.length > 0) {
      throw new CofferCryptoError('invalid block opener parameters');
    }
    return new BlockOpener(sealers, per, p.blockCount, p.size);
  }

  /** This opener as structured-cloneable data. */
  get params(): BlockOpenerParams {
    const p: BlockOpenerParams = { sealer: this.sealers[0]!.params, blockCount: this.count, size: this.size };
    if (this.blockOrigins) {
      p.origins = this.sealers.slice(1).map((s) => s.params);
      p.blockOrigins = [...this.blockOrigins];
    }
    return p;
  }

  /** The plaintext length of block index (the last one is shorter). */
  plainLen(index: number): number {
    return index === this.count - 1 ? lastBlockLen(this.size) : BLOCK_SIZE;
  }

  /**
   * Checks block `index` against its manifest ID `id` (SHA-256(block) must
   * equal it) and only then opens it, at that index with the last flag from
   * the block count (never from the server), under the key and revision ID
   * of the revision that sealed it (§12.6); trims the last block to the
   * real size. Every failure is DecryptError.
   *
   * WebCrypto copies its input when called, so the caller may reuse
   * `block`'s memory as soon as this promise settles.
   */
  async open(index: number, id: Uint8Array, block: Uint8Array): Promise<Bytes> {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.count) throw new CofferCryptoError(`block ${index} out of range (of ${this.count})`);
    if (!bytesEqual(await blockID(block), id)) throw new DecryptError(`block ${index}: ID does not match the manifest`);
    const last = index === this.count - 1;
    const pt = await this.sealers[this.blockOrigins?.[index] ?? 0]!.open(block, index, last);
    if (!last) return pt;
    const keep = lastBlockLen(this.size);
    // The padding of the last block must be zeros, as the Go reader
    // requires: a writer that put data there would show different files
    // to different readers.
    if (keep > pt.length || !isAllZero(pt.subarray(keep))) throw new DecryptError(`block ${index}: padding is not zero`);
    return pt.subarray(0, keep);
  }
}

/** Decrypts the head revision of a verified file record, block by block, in order. */
export class RevisionReader {
  private next = 0;
  private constructor(
    /** The opened attributes (size, modification time, SHA-256). */
    readonly attrs: Attrs,
    /** The revision record (its block IDs are the manifest). */
    readonly revision: RevisionRecord,
    /** Checks and opens single blocks; its params can go to a worker. */
    readonly opener: BlockOpener,
    private readonly hasher: IHasher,
  ) {}

  /**
   * Opens the head revision `head` of the file record `file`, which the
   * caller has verified (and whose author it has checked), with the file's
   * node keys. Runs the head check (matchesHead), opens the content key
   * under the current key or the key history, opens the attributes,
   * checks the block count and opens the keys of the revisions whose
   * blocks it re-uses (§12.6). Throws BadRecordError, DecryptError or
   * BadManifestError.
   */
  static async open(fileKeys: NodeKeys, file: NodeRecord, head: RevisionRecord): Promise<RevisionReader> {
    matchesHead(head, file);
    const { contentKey } = await openContentKeyWithHistory(
      fileKeys,
      head.volume,
      head.node,
      head.revision,
      head.sealedContentKey,
      file.keyHistory,
    );
    const attrs = await openAttrs(contentKey, head.volume, head.node, head.revision, head.sealedAttrs);
    checkManifest(head, attrs);
    let sealers: BlockSealer[];
    try {
      sealers = await revisionSealers(contentKey, head);
    } finally {
      contentKey.fill(0);
    }
    const params: BlockOpenerParams = { sealer: sealers[0]!.params, blockCount: head.blocks.length, size: attrs.size };
    if (sealers.length > 1) {
      params.origins = sealers.slice(1).map((s) => s.params);
      params.blockOrigins = [...head.blockOrigins!];
    }
    const opener = BlockOpener.fromParams(params);
    const hasher = await createSHA256();
    hasher.init();
    return new RevisionReader(attrs, head, opener, hasher);
  }

  /** The plaintext size in bytes (files above 2^53 bytes are not supported here). */
  get size(): number {
    return Number(this.attrs.size);
  }

  /** Number of blocks to fetch. */
  get blockCount(): number {
    return this.revision.blocks.length;
  }

  /** Block i's ID, from the signed manifest. */
  blockID(i: number): Bytes {
    return this.revision.blocks[i]! as Bytes;
  }

  /** Block i's ID as 64 hex digits (as the block endpoints name it). */
  blockIDHex(i: number): string {
    return toHex(this.revision.blocks[i]!);
  }

  /**
   * Checks and opens block `index`, which must be the next one (0, 1, ...):
   * SHA-256(block) must be the manifest's ID; the block opens at that index
   * with the last flag from the manifest; the last block is trimmed to the
   * real size; the plaintext goes into the whole-file hash. Every failure
   * is DecryptError.
   */
  async openBlock(index: number, block: Uint8Array): Promise<Bytes> {
    this.checkNext(index);
    const pt = await this.opener.open(index, this.blockID(index), block);
    this.addBlock(index, [pt]);
    return pt;
  }

  /**
   * Adds the plaintext of block `index`, which must be the next one, to the
   * whole-file hash: the bytes BlockOpener.open (this reader's opener, or
   * one made from its params) returned for it after checking the block,
   * whole or cut into parts in order. openBlock does both steps at once;
   * this one lets blocks be opened elsewhere, ahead and in parallel, and
   * still be hashed in order.
   */
  addBlock(index: number, parts: readonly Uint8Array[]): void {
    this.checkNext(index);
    let n = 0;
    for (const p of parts) n += p.length;
    if (n !== this.opener.plainLen(index)) throw new CofferCryptoError(`block ${index}: ${n} bytes of plaintext, want ${this.opener.plainLen(index)}`);
    for (const p of parts) this.hasher.update(p);
    this.next++;
  }

  private checkNext(index: number): void {
    if (index !== this.next || index >= this.blockCount) throw new CofferCryptoError(`block ${index} out of order (want ${this.next})`);
  }

  /** After the last block: checks the SHA-256 of the whole plaintext against the attributes (DecryptError). */
  finish(): void {
    if (this.next !== this.blockCount) throw new CofferCryptoError(`read ${this.next} of ${this.blockCount} blocks`);
    if (!ctEqual(this.hasher.digest('binary'), this.attrs.sha256)) throw new DecryptError('the file does not match its SHA-256');
  }
}

/** A sealed block and its ID, ready to upload. */
export interface SealedBlock {
  index: number;
  block: Bytes;
  id: Bytes;
}

/** Encrypts a new revision block by block, in order. */
export class RevisionWriter {
  private next = 0;
  private written = 0;
  private readonly ids: Uint8Array[] = [];
  private done = false;
  private constructor(
    private readonly opts: { fileKeys: NodeKeys; volume: Uint8Array; node: Uint8Array; seq: number | bigint; author: string; size: number; modTime: bigint },
    /** The new revision's ID. */
    readonly revision: Bytes,
    private readonly contentKey: Bytes,
    private readonly sealer: BlockSealer,
    private readonly hasher: IHasher,
    /** Number of blocks the file has: ceil(size / 4 MiB). */
    readonly blockCount: number,
  ) {}

  /**
   * Starts a revision of `size` bytes of file `node` (whose current node
   * keys are fileKeys) with a fresh revision ID and content key.
   * seq is the previous head's + 1 (1 for a new file); author is the
   * signer's name (for a link upload, linkAuthor(link ID)); modTime in Unix
   * nanoseconds.
   */
  static async create(opts: {
    fileKeys: NodeKeys;
    volume: Uint8Array;
    node: Uint8Array;
    seq: number | bigint;
    author: string;
    size: number;
    modTime: bigint;
  }): Promise<RevisionWriter> {
    if (!Number.isSafeInteger(opts.size) || opts.size < 0) throw new CofferCryptoError('file size out of range');
    const n = blockCount(opts.size);
    if (n < 0) throw new CofferCryptoError('file too large');
    const revision = newID();
    const contentKey = newContentKey();
    const sealer = await BlockSealer.create(contentKey, opts.volume, opts.node, revision);
    const hasher = await createSHA256();
    hasher.init();
    return new RevisionWriter(opts, revision, contentKey, sealer, hasher, n);
  }

  /**
   * Seals block `index` (the next one): every block but the last is exactly
   * 4 MiB, the last holds the rest. Returns the block and its ID.
   */
  async sealBlock(index: number, plaintext: Uint8Array): Promise<SealedBlock> {
    if (this.done || index !== this.next || index >= this.blockCount) throw new CofferCryptoError(`block ${index} out of order (want ${this.next} of ${this.blockCount})`);
    const last = index === this.blockCount - 1;
    const want = last ? lastBlockLen(this.opts.size) : BLOCK_SIZE;
    if (plaintext.length !== want) throw new CofferCryptoError(`block ${index} has ${plaintext.length} bytes, want ${want} (did the file change?)`);
    this.hasher.update(plaintext);
    const block = await this.sealer.seal(plaintext, index, last);
    const id = await blockID(block);
    this.ids.push(id);
    this.written += plaintext.length;
    this.next++;
    return { index, block, id };
  }

  /**
   * After the last block: seals the attributes and the content key and
   * returns the revision record, unsigned (sign it with signRevisionRecord,
   * or signLinkRevisionRecord for a link upload). Its revisionDigest goes in
   * the node record.
   */
  async finish(): Promise<RevisionRecord> {
    if (this.done) throw new CofferCryptoError('revision already finished');
    if (this.next !== this.blockCount || this.written !== this.opts.size) throw new CofferCryptoError(`sealed ${this.next} of ${this.blockCount} blocks`);
    this.done = true;
    const { volume, node, fileKeys, seq, author, modTime } = this.opts;
    const sha256 = this.hasher.digest('binary');
    const sealedAttrs = await sealAttrs(this.contentKey, volume, node, this.revision, { size: BigInt(this.opts.size), modTime, sha256 });
    const sealedContentKey = await sealContentKey(fileKeys, volume, node, this.revision, this.contentKey);
    this.contentKey.fill(0);
    return { volume, node, revision: this.revision, seq, sealedContentKey, blocks: this.ids, sealedAttrs, author };
  }
}
