/**
 * Ed25519 (RFC 8032) on @noble/ed25519, with the key check and
 * verification rule of crypto.md §2 and §9:
 *
 * - every public key taken from outside must be the canonical encoding of
 *   a curve point that is not of small order ({@link checkEd25519PublicKey});
 * - signatures are verified with `zip215: false` (S < L, canonical R and A,
 *   small-order A refused). noble checks the cofactored equation, Go the
 *   cofactorless one; they agree on every honestly made signature.
 */

import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesEqual, copyBytes, type Bytes } from './bytes.ts';
import { BadEd25519KeyError, CofferCryptoError } from './errors.ts';

// noble's synchronous API needs a SHA-512; @noble/hashes provides it.
ed.hashes.sha512 = sha512;

export const ED25519_PUBLIC_KEY_SIZE = 32;
export const ED25519_SEED_SIZE = 32;
export const ED25519_SIGNATURE_SIZE = 64;

/**
 * Throws BadEd25519KeyError unless pub is 32 bytes, the canonical encoding
 * of a curve point (y < p; sign bit clear when x = 0; decoding and
 * re-encoding gives the same bytes), and not of small order (Go:
 * CheckEd25519PublicKey).
 */
export function checkEd25519PublicKey(pub: Uint8Array): void {
  if (pub.length !== ED25519_PUBLIC_KEY_SIZE) {
    throw new BadEd25519KeyError(`unacceptable Ed25519 public key: ${pub.length} bytes, want 32`);
  }
  let p: ed.Point;
  try {
    p = ed.Point.fromBytes(copyBytes(pub), false);
  } catch {
    throw new BadEd25519KeyError('unacceptable Ed25519 public key: not a point on the curve');
  }
  if (!bytesEqual(p.toBytes(), pub)) throw new BadEd25519KeyError('unacceptable Ed25519 public key: non-canonical encoding');
  if (p.isSmallOrder()) throw new BadEd25519KeyError('unacceptable Ed25519 public key: point of small order');
}

/**
 * Verifies sig over msg under pub by the rule of crypto.md §2, after the
 * key check. Returns false for a bad signature; throws BadEd25519KeyError
 * for an unacceptable key.
 */
export function verifyEd25519(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  checkEd25519PublicKey(pub);
  if (sig.length !== ED25519_SIGNATURE_SIZE) return false;
  try {
    return ed.verify(copyBytes(sig), copyBytes(msg), copyBytes(pub), { zip215: false });
  } catch {
    return false;
  }
}

/** The Ed25519 public key of a 32-byte seed (RFC 8032 key pair from the seed). */
export function ed25519PublicKey(seed: Uint8Array): Bytes {
  if (seed.length !== ED25519_SEED_SIZE) throw new CofferCryptoError('Ed25519 seed must be 32 bytes');
  return ed.getPublicKey(copyBytes(seed)) as Bytes;
}

/** Ed25519-Sign(seed, msg): deterministic RFC 8032 signature, 64 bytes. */
export function ed25519Sign(seed: Uint8Array, msg: Uint8Array): Bytes {
  if (seed.length !== ED25519_SEED_SIZE) throw new CofferCryptoError('Ed25519 seed must be 32 bytes');
  return ed.sign(copyBytes(msg), copyBytes(seed)) as Bytes;
}
