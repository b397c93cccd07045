/**
 * SRP-6a client (crypto.md §4): RFC 5054 3072-bit group, g = 5, H = SHA-256,
 *
 *   k  = H(N || PAD(g)),  u = H(PAD(A) || PAD(B)),  K = H(PAD(S))
 *   A  = g^a,  S = (B - k*g^x)^(a + u*x)
 *   M1 = H((H(N) XOR H(PAD(g))) || H(I) || s || PAD(A) || PAD(B) || K)
 *   M2 = H(PAD(A) || M1 || K)
 *
 * x is srp_x from the password KDF (§3), not RFC 5054's H(s | H(I:P)).
 * The client refuses B mod N = 0 and u = 0, and checks M2 in constant time.
 * Arithmetic is native BigInt (not constant time; see the report).
 */

import { sha256 } from '@noble/hashes/sha2.js';
import { concat, ctEqual, fromHex, isAllZero, randomBytes, utf8, wipe, type Bytes } from './bytes.ts';
import { CofferCryptoError, SRPBadProofError, SRPIllegalParameterError } from './errors.ts';

/** A hash function of the group (SHA-256 for Coffer). */
export type HashFn = (data: Uint8Array) => Uint8Array;

/** An SRP group: prime N, generator g, hash H, and the constants derived from them. */
export interface SRPGroup {
  readonly name: string;
  readonly N: bigint;
  /** N big-endian; its length is the PAD length. */
  readonly nBytes: Bytes;
  readonly g: bigint;
  readonly hash: HashFn;
  /** PAD(g). */
  readonly gPad: Bytes;
  /** k = H(N || PAD(g)) as an integer. */
  readonly k: bigint;
  /** H(N) XOR H(PAD(g)). */
  readonly hNxorHg: Bytes;
}

/** Big-endian bytes to a non-negative BigInt. */
export function bytesToBigInt(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = 0; i < b.length; i++) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

/** A non-negative BigInt as big-endian bytes left-padded to len (PAD). */
export function bigIntToBytes(n: bigint, len: number): Bytes {
  if (n < 0n) throw new RangeError('negative');
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  if (n !== 0n) throw new RangeError('value does not fit');
  return out;
}

/** base^exp mod m (square and multiply, left to right). */
export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  if (m === 1n) return 0n;
  let result = 1n;
  base %= m;
  if (base < 0n) base += m;
  const bits = exp.toString(2);
  for (let i = 0; i < bits.length; i++) {
    result = (result * result) % m;
    if (bits[i] === '1') result = (result * base) % m;
  }
  return result;
}

/** Builds a group from N (hex), g and H. */
export function srpGroup(name: string, nHex: string, g: number, hash: HashFn): SRPGroup {
  const nBytes = fromHex(nHex.replace(/\s+/g, ''));
  const N = bytesToBigInt(nBytes);
  const gPad = bigIntToBytes(BigInt(g), nBytes.length);
  const hN = hash(nBytes);
  const hg = hash(gPad);
  const hNxorHg = new Uint8Array(hN.length);
  for (let i = 0; i < hN.length; i++) hNxorHg[i] = hN[i]! ^ hg[i]!;
  return {
    name,
    N,
    nBytes,
    g: BigInt(g),
    hash,
    gPad,
    k: bytesToBigInt(hash(concat(nBytes, gPad))),
    hNxorHg,
  };
}

const RFC5054_N_3072 =
  'FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08' +
  '8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B' +
  '302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9' +
  'A637ED6B 0BFF5CB6 F406B7ED EE386BFB 5A899FA5 AE9F2411 7C4B1FE6' +
  '49286651 ECE45B3D C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8' +
  'FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D' +
  '670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B E39E772C' +
  '180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718' +
  '3995497C EA956AE5 15D22618 98FA0510 15728E5A 8AAAC42D AD33170D' +
  '04507A33 A85521AB DF1CBA64 ECFB8504 58DBEF0A 8AEA7157 5D060C7D' +
  'B3970F85 A6E1E4C7 ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226' +
  '1AD2EE6B F12FFA06 D98A0864 D8760273 3EC86A64 521F2B18 177B200C' +
  'BBE11757 7A615D6C 770988C0 BAD946E2 08E24FA0 74E5AB31 43DB5BFC' +
  'E0FD108E 4B82D120 A93AD2CA FFFFFFFF FFFFFFFF';

/** Coffer's group, named "rfc5054-3072-sha256" by GET /v1/info. */
export const GROUP_3072: SRPGroup = srpGroup('rfc5054-3072-sha256', RFC5054_N_3072, 5, (d) => sha256(d));

/** v = g^x mod N, as PAD(v) (what sign-up sends). */
export function srpVerifier(x: Uint8Array, group: SRPGroup = GROUP_3072): Bytes {
  return bigIntToBytes(modPow(group.g, bytesToBigInt(x), group.N), group.nBytes.length);
}

const SECRET_SIZE = 32;

/**
 * The client side of one SRP-6a login. Use once:
 *
 *   const c = new SRPClient();            // a random, A = g^a
 *   send c.A;  receive salt, B
 *   const m1 = c.finish(user, salt, x, B); send m1; receive m2
 *   c.verifyServer(m2);                   // throws SRPBadProofError
 *   c.key                                 // K, only after verifyServer
 */
export class SRPClient {
  readonly group: SRPGroup;
  private a: Bytes | undefined;
  private readonly pubA: Bytes;
  private m2: Bytes | undefined;
  private k: Bytes | undefined;
  private state: 'started' | 'finished' | 'verified' | 'failed' = 'started';

  /** a is 32 random bytes unless given (test vectors only). */
  constructor(group: SRPGroup = GROUP_3072, a?: Uint8Array) {
    this.group = group;
    const secret = a ? Uint8Array.from(a) : randomBytes(SECRET_SIZE);
    if (isAllZero(secret)) throw new SRPIllegalParameterError('srp: client secret a is zero');
    this.a = secret;
    this.pubA = bigIntToBytes(modPow(group.g, bytesToBigInt(secret), group.N), group.nBytes.length);
  }

  /** PAD(A), to send to the server. */
  get A(): Bytes {
    return Uint8Array.from(this.pubA);
  }

  /**
   * Given the server's salt and B, computes the session key and returns
   * M1. identity is the account name (bytes or UTF-8 string), x the 32-byte
   * srp_x. Throws SRPIllegalParameterError if B is empty, longer than N,
   * not below N, zero mod N, or u = 0. Callable once.
   */
  finish(identity: string | Uint8Array, salt: Uint8Array, x: Uint8Array, B: Uint8Array): Bytes {
    if (this.state !== 'started') throw new CofferCryptoError('srp: finish called more than once');
    this.state = 'failed';
    const g = this.group;
    const size = g.nBytes.length;
    if (B.length === 0 || B.length > size) throw new SRPIllegalParameterError(`srp: B is ${B.length} bytes long, want 1 to ${size}`);
    const b = bytesToBigInt(B);
    if (b >= g.N) throw new SRPIllegalParameterError('srp: B is not less than N');
    if (b === 0n) throw new SRPIllegalParameterError('srp: B is zero');
    const padB = bigIntToBytes(b, size);
    const uBytes = srpScramble(g, this.pubA, padB);
    if (isAllZero(uBytes)) throw new SRPIllegalParameterError('srp: u is zero');
    const S = srpClientPremaster(g, this.a!, x, padB, uBytes);
    wipe(this.a);
    this.a = undefined;
    const K = g.hash(bigIntToBytes(S, size));
    const I = typeof identity === 'string' ? utf8(identity) : identity;
    const m1 = g.hash(concat(g.hNxorHg, g.hash(I), salt, this.pubA, padB, K));
    this.m2 = g.hash(concat(this.pubA, m1, K)) as Bytes;
    this.k = K as Bytes;
    this.state = 'finished';
    return m1 as Bytes;
  }

  /** Checks the server's M2 in constant time; throws SRPBadProofError if wrong. Callable once. */
  verifyServer(m2: Uint8Array): void {
    if (this.state !== 'finished') {
      if (this.state === 'failed') throw new SRPBadProofError('srp: bad proof');
      throw new CofferCryptoError('srp: verifyServer called before finish or more than once');
    }
    if (!ctEqual(m2, this.m2!)) {
      this.state = 'failed';
      wipe(this.k);
      this.k = undefined;
      throw new SRPBadProofError('srp: bad proof');
    }
    this.state = 'verified';
  }

  /** K = H(PAD(S)), available only after verifyServer succeeded. */
  get key(): Bytes | undefined {
    return this.state === 'verified' && this.k ? Uint8Array.from(this.k) : undefined;
  }

  /** K before M2 is checked (for a password-change binding, crypto.md §4.1); undefined before finish. */
  get unverifiedKey(): Bytes | undefined {
    return (this.state === 'finished' || this.state === 'verified') && this.k ? Uint8Array.from(this.k) : undefined;
  }
}

/** u = H(PAD(A) || PAD(B)) (A and B already padded). */
export function srpScramble(group: SRPGroup, padA: Uint8Array, padB: Uint8Array): Bytes {
  return group.hash(concat(padA, padB)) as Bytes;
}

/**
 * The client's premaster secret S = (B - k*g^x)^(a + u*x) mod N, as an
 * integer; a, x, B and u are big-endian bytes. No checks: use SRPClient.
 */
export function srpClientPremaster(group: SRPGroup, a: Uint8Array, x: Uint8Array, B: Uint8Array, u: Uint8Array): bigint {
  const N = group.N;
  const xn = bytesToBigInt(x);
  let base = (bytesToBigInt(B) - ((group.k * modPow(group.g, xn, N)) % N)) % N;
  if (base < 0n) base += N;
  return modPow(base, bytesToBigInt(a) + bytesToBigInt(u) * xn, N);
}
