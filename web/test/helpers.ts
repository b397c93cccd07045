// Shared helpers of the crypto tests: vector loading and hex.
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { fromHex, toHex } from '../src/crypto/bytes.ts';
import type { NodeRecord } from '../src/crypto/record.ts';
import type { RevisionRecord } from '../src/crypto/revision.ts';

const vectorsDir = fileURLToPath(new URL('../../testdata/vectors/', import.meta.url));

/** Parses testdata/vectors/NAME.json. */
export function loadVectors(name: string): any {
  return JSON.parse(readFileSync(vectorsDir + name + '.json', 'utf8'));
}

/** True if testdata/vectors/NAME.json exists. */
export function hasVectors(name: string): boolean {
  return existsSync(vectorsDir + name + '.json');
}

/** Hex to bytes. */
export const h = (s: string | undefined | null): Uint8Array<ArrayBuffer> => fromHex(s ?? '');

/** Asserts that bytes equal the hex string. */
export function eqHex(got: Uint8Array, want: string, msg?: string): void {
  assert.equal(toHex(got), want, msg);
}

/** Flips bit `bit` of byte `i` of a copy. */
export function flip(b: Uint8Array, i: number, bit = 0): Uint8Array<ArrayBuffer> {
  const c = Uint8Array.from(b);
  c[i < 0 ? c.length + i : i]! ^= 1 << bit;
  return c;
}

/** Asserts that the promise (or function) rejects with an instance of cls. */
export async function rejectsWith(p: Promise<unknown> | (() => unknown), cls: Function, msg?: string): Promise<void> {
  await assert.rejects(async () => (typeof p === 'function' ? await p() : await p), (e: unknown) => {
    assert.ok(e instanceof cls, `${msg ?? ''}: expected ${cls.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    return true;
  }, msg);
}

/** A node record from a vector case. */
export function recordOf(c: any): NodeRecord {
  return {
    volume: h(c.volume_hex),
    node: h(c.node_hex),
    parent: h(c.parent_hex),
    kind: c.kind,
    nameHash: h(c.name_hash_hex),
    sealedName: h(c.sealed_name_hex),
    sealedKey: h(c.sealed_key_hex),
    author: c.author,
    version: BigInt(c.version),
    revision: h(c.revision_hex),
    revisionSeq: BigInt(c.revision_seq),
    revisionDigest: h(c.revision_digest_hex),
    keyHistory: h(c.key_history_hex),
  };
}


/** A revision record from a vector case. */
export function revisionOf(c: any): RevisionRecord {
  return {
    volume: h(c.volume_hex),
    node: h(c.node_hex),
    revision: h(c.revision_hex),
    seq: BigInt(c.seq),
    sealedContentKey: h(c.sealed_content_key_hex),
    blocks: c.blocks_hex.map(h),
    sealedAttrs: h(c.sealed_attrs_hex),
    author: c.author,
  };
}

