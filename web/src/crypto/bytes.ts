/**
 * Byte helpers for the encodings of docs/crypto.md §2: big-endian integers,
 * LP(), tagged(), hex, base64 (as Go's encoding/json emits []byte) and
 * unpadded base64url, and a constant-time compare.
 */

import { CofferCryptoError } from './errors.ts';

/** A Uint8Array backed by a plain ArrayBuffer (what WebCrypto accepts as BufferSource). */
export type Bytes = Uint8Array<ArrayBuffer>;

const encoder = new TextEncoder();

/** UTF-8 bytes of a string (lone surrogates become U+FFFD; validate first where it matters). */
export function utf8(s: string): Bytes {
  return encoder.encode(s) as Bytes;
}

/** Decodes strict UTF-8 (refuses invalid sequences, overlong forms and surrogates); throws TypeError. */
export function fromUtf8(b: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(b);
}

/** Concatenation of byte strings (`||`). */
export function concat(...parts: Uint8Array[]): Bytes {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A fresh copy of b on its own ArrayBuffer. */
export function copyBytes(b: Uint8Array): Bytes {
  return Uint8Array.prototype.slice.call(b) as Bytes;
}

/** u8(n): one byte. */
export function u8(n: number): Bytes {
  if (!Number.isInteger(n) || n < 0 || n > 0xff) throw new RangeError('u8 out of range');
  return Uint8Array.of(n);
}

/** u16(n): 2 bytes big-endian. */
export function u16(n: number): Bytes {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError('u16 out of range');
  return Uint8Array.of(n >>> 8, n & 0xff);
}

/** u32(n): 4 bytes big-endian. */
export function u32(n: number): Bytes {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError('u32 out of range');
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

/** Converts a number or bigint to a bigint in [0, 2^64), or throws RangeError. */
export function toU64(n: number | bigint): bigint {
  if (typeof n === 'number') {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('u64 out of range');
    n = BigInt(n);
  }
  if (n < 0n || n >= 1n << 64n) throw new RangeError('u64 out of range');
  return n;
}

/** u64(n): 8 bytes big-endian. */
export function u64(n: number | bigint): Bytes {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, toU64(n));
  return b;
}

/** i64(n): the 8-byte two's complement of a signed integer. */
export function i64(n: number | bigint): Bytes {
  const v = typeof n === 'number' ? BigInt(n) : n;
  if (v < -(1n << 63n) || v >= 1n << 63n) throw new RangeError('i64 out of range');
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, v);
  return b;
}

/** Reads a big-endian u16 at off. */
export function readU16(b: Uint8Array, off = 0): number {
  return (b[off]! << 8) | b[off + 1]!;
}

/** Reads a big-endian u32 at off. */
export function readU32(b: Uint8Array, off = 0): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off);
}

/** Reads a big-endian u64 at off. */
export function readU64(b: Uint8Array, off = 0): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off);
}

/** Reads a big-endian i64 at off. */
export function readI64(b: Uint8Array, off = 0): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigInt64(off);
}

/** LP(x) = u32(len(x)) || x. A field of 4 GiB or more is an error, never truncated. */
export function lp(x: Uint8Array | string): Bytes {
  const b = typeof x === 'string' ? utf8(x) : x;
  return concat(u32(b.length), b);
}

/** LP() of each field, concatenated: the usual AD fields `LP(a) || LP(b) || ...`. */
export function lps(...fields: (Uint8Array | string)[]): Bytes {
  return concat(...fields.map((f) => lp(f)));
}

/** tagged(label, data) = label || 0x00 || data. */
export function tagged(label: string, ...data: Uint8Array[]): Bytes {
  return concat(utf8(label), Uint8Array.of(0), ...data);
}

/**
 * Compares two byte strings in time that depends only on their lengths
 * (xor-accumulate). Different lengths are unequal.
 */
export function ctEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i]! ^ b[i]!;
  return acc === 0;
}

/** Plain (variable-time) equality, for public values. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True if every byte is zero (constant time in the length). */
export function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i]!;
  return acc === 0;
}

/** Overwrites b with zeros (best effort: JS may hold copies). */
export function wipe(b: Uint8Array | undefined | null): void {
  if (b) b.fill(0);
}

/** n bytes from the platform CSPRNG (crypto.getRandomValues). */
export function randomBytes(n: number): Bytes {
  const b = new Uint8Array(n);
  // getRandomValues fills at most 65536 bytes per call.
  for (let off = 0; off < n; off += 65536) crypto.getRandomValues(b.subarray(off, Math.min(n, off + 65536)));
  return b;
}

/** Lower-case hex. */
export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

/** Decodes hex (either case, even length); throws CofferCryptoError on anything else. */
export function fromHex(s: string): Bytes {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new CofferCryptoError('invalid hex');
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return b;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function encode64(b: Uint8Array, alphabet: string, pad: boolean): string {
  let s = '';
  let i = 0;
  for (; i + 3 <= b.length; i += 3) {
    const v = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    s += alphabet[v >>> 18]! + alphabet[(v >>> 12) & 63]! + alphabet[(v >>> 6) & 63]! + alphabet[v & 63]!;
  }
  const rest = b.length - i;
  if (rest === 1) {
    const v = b[i]! << 16;
    s += alphabet[v >>> 18]! + alphabet[(v >>> 12) & 63]! + (pad ? '==' : '');
  } else if (rest === 2) {
    const v = (b[i]! << 16) | (b[i + 1]! << 8);
    s += alphabet[v >>> 18]! + alphabet[(v >>> 12) & 63]! + alphabet[(v >>> 6) & 63]! + (pad ? '=' : '');
  }
  return s;
}

function decode64(s: string, alphabet: string, padded: boolean): Bytes {
  const bad = () => new CofferCryptoError(padded ? 'invalid base64' : 'invalid base64url');
  if (padded) {
    if (s.length % 4 !== 0) throw bad();
    if (s.endsWith('==')) s = s.slice(0, -2);
    else if (s.endsWith('=')) s = s.slice(0, -1);
  }
  if (s.length % 4 === 1) throw bad();
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const v = alphabet.indexOf(s[i]!);
    if (v < 0) throw bad();
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  // Strict: the unused low bits of the last character must be zero, so
  // every byte string has exactly one encoding (as Go's Strict decoding).
  if (acc !== 0) throw bad();
  return out;
}

/** Standard padded base64 (RFC 4648 §4), as Go's encoding/json writes []byte. */
export function toBase64(b: Uint8Array): string {
  return encode64(b, B64, true);
}

/** Decodes standard padded base64, strictly (no whitespace, canonical trailing bits). */
export function fromBase64(s: string): Bytes {
  return decode64(s, B64, true);
}

/** Unpadded base64url (RFC 4648 §5), for URLs. */
export function toBase64Url(b: Uint8Array): string {
  return encode64(b, B64URL, false);
}

/** Decodes unpadded base64url, strictly (no padding, no whitespace, canonical trailing bits). */
export function fromBase64Url(s: string): Bytes {
  return decode64(s, B64URL, false);
}

/**
 * A cursor over an encoding, for strict parsers. Every read returns
 * undefined when the input is too short; the caller turns that into its
 * own error.
 */
export class Reader {
  private off = 0;
  constructor(private readonly b: Uint8Array) {}
  /** The next n bytes (a view), or undefined. */
  bytes(n: number): Uint8Array | undefined {
    if (n < 0 || this.off + n > this.b.length) return undefined;
    const v = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }
  u8(): number | undefined {
    const v = this.bytes(1);
    return v ? v[0] : undefined;
  }
  u16(): number | undefined {
    const v = this.bytes(2);
    return v ? readU16(v) : undefined;
  }
  u32(): number | undefined {
    const v = this.bytes(4);
    return v ? readU32(v) : undefined;
  }
  u64(): bigint | undefined {
    const v = this.bytes(8);
    return v ? readU64(v) : undefined;
  }
  /** An LP() field, or undefined. */
  lp(): Uint8Array | undefined {
    const n = this.u32();
    return n === undefined ? undefined : this.bytes(n);
  }
  /** Bytes left. */
  get remaining(): number {
    return this.b.length - this.off;
  }
  get empty(): boolean {
    return this.remaining === 0;
  }
}
