/**
 * HKDF-SHA256 (crypto.md §2), AES-256-GCM, and the AEAD envelope of §6.1:
 *
 *   envelope = 0x01 || nonce (12) || AES-256-GCM(key, nonce, plaintext, AD)   (ct || tag)
 *   AD       = tagged(label, fields)
 *
 * All on WebCrypto. Every failure to open is a {@link DecryptError}.
 */

import { concat, copyBytes, randomBytes, tagged, type Bytes } from './bytes.ts';
import { CofferCryptoError, DecryptError } from './errors.ts';

export const ENVELOPE_VERSION = 0x01;
export const NONCE_SIZE = 12;
export const TAG_SIZE = 16;
/** version + nonce + tag: 29 bytes. */
export const ENVELOPE_OVERHEAD = 1 + NONCE_SIZE + TAG_SIZE;

const subtle = (): SubtleCrypto => {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new CofferCryptoError('WebCrypto (crypto.subtle) is not available: a secure context (https) is required');
  return s;
};

/** A key for AES-256-GCM: raw 32 bytes, or a CryptoKey made by {@link importAesKey}. */
export type AesKey = CryptoKey | Uint8Array;

/**
 * HKDF-SHA256 with an empty salt (RFC 5869; an empty HMAC key is the same
 * as 32 zero bytes, which is what crypto.md §2 and Go use), info as given,
 * output length L bytes.
 */
export async function hkdf(ikm: Uint8Array, info: Uint8Array, length = 32): Promise<Bytes> {
  const s = subtle();
  const key = await s.importKey('raw', copyBytes(ikm), 'HKDF', false, ['deriveBits']);
  const bits = await s.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(32), info: copyBytes(info) },
    key,
    length * 8,
  );
  return new Uint8Array(bits);
}

/** HKDF(ikm, tagged(label, context), 32): every 32-byte sub-key of crypto.md. */
export function hkdfLabel(ikm: Uint8Array, label: string, context: Uint8Array = new Uint8Array(0)): Promise<Bytes> {
  return hkdf(ikm, tagged(label, context), 32);
}

/** Imports 32 raw bytes as a non-extractable AES-256-GCM key. */
export async function importAesKey(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== 32) throw new CofferCryptoError(`AES-256 key is ${raw.length} bytes, want 32`);
  return subtle().importKey('raw', copyBytes(raw), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

async function asKey(key: AesKey): Promise<CryptoKey> {
  return key instanceof Uint8Array ? importAesKey(key) : key;
}

/** AES-256-GCM encryption: returns ciphertext || 16-byte tag. */
export async function gcmSeal(key: AesKey, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Promise<Bytes> {
  if (nonce.length !== NONCE_SIZE) throw new CofferCryptoError('GCM nonce must be 12 bytes');
  const ct = await subtle().encrypt(
    { name: 'AES-GCM', iv: copyBytes(nonce), additionalData: copyBytes(ad), tagLength: 128 },
    await asKey(key),
    plaintext as Bytes,
  );
  return new Uint8Array(ct);
}

/** AES-256-GCM decryption of ciphertext || tag; any failure is DecryptError. */
export async function gcmOpen(key: AesKey, nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Promise<Bytes> {
  if (nonce.length !== NONCE_SIZE || ciphertext.length < TAG_SIZE) throw new DecryptError();
  let k: CryptoKey;
  try {
    k = await asKey(key);
  } catch {
    throw new DecryptError();
  }
  try {
    const pt = await subtle().decrypt(
      { name: 'AES-GCM', iv: copyBytes(nonce), additionalData: copyBytes(ad), tagLength: 128 },
      k,
      ciphertext as Bytes,
    );
    return new Uint8Array(pt);
  } catch {
    throw new DecryptError();
  }
}

/**
 * Seals plaintext in an envelope under key with AD = tagged(label,
 * fields). The nonce is random unless given (only test vectors give one).
 */
export async function sealEnvelope(
  key: AesKey,
  label: string,
  fields: Uint8Array,
  plaintext: Uint8Array,
  nonce?: Uint8Array,
): Promise<Bytes> {
  const n = nonce ? copyBytes(nonce) : randomBytes(NONCE_SIZE);
  if (n.length !== NONCE_SIZE) throw new CofferCryptoError('envelope nonce must be 12 bytes');
  const ct = await gcmSeal(key, n, plaintext, tagged(label, fields));
  return concat(Uint8Array.of(ENVELOPE_VERSION), n, ct);
}

/** Throws DecryptError (with unsupportedVersion) if sealed starts with a byte other than version. */
export function checkVersionByte(sealed: Uint8Array, version: number, what = 'envelope'): void {
  if (sealed.length > 0 && sealed[0] !== version) {
    throw new DecryptError(`${what}: unsupported version 0x${sealed[0]!.toString(16).padStart(2, '0')}`, {
      unsupportedVersion: sealed[0]!,
    });
  }
}

/**
 * Opens an envelope sealed by {@link sealEnvelope} under the same key,
 * label and fields. The version byte is checked first. Every failure is a
 * DecryptError.
 */
export async function openEnvelope(key: AesKey, label: string, fields: Uint8Array, sealed: Uint8Array): Promise<Bytes> {
  checkVersionByte(sealed, ENVELOPE_VERSION);
  if (sealed.length < ENVELOPE_OVERHEAD) throw new DecryptError();
  return gcmOpen(key, sealed.subarray(1, 1 + NONCE_SIZE), sealed.subarray(1 + NONCE_SIZE), tagged(label, fields));
}

/** SHA-256 on WebCrypto (for large inputs such as blocks). */
export async function sha256Async(data: Uint8Array): Promise<Bytes> {
  return new Uint8Array(await subtle().digest('SHA-256', data as Bytes));
}

/** HMAC-SHA256 with a raw key, on WebCrypto. */
export async function hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Bytes> {
  const k = await subtle().importKey('raw', copyBytes(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle().sign('HMAC', k, data as Bytes));
}
