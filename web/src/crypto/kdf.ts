/**
 * Password KDF (crypto.md §3):
 *
 *   pw    = Argon2id(NFC(password), salt, t, m, p, 32)     ; version 0x13
 *   srp_x = HKDF(pw, tagged("coffer/v1/srp-x", user), 32)
 *   kek   = HKDF(pw, tagged("coffer/v1/kek",   user), 32)
 *
 * Argon2id is hash-wasm's. Parameters sent by a server are refused below
 * the floor (downgrade, WeakKDFError) and above the ceiling (resource
 * exhaustion, KDFTooCostlyError) before any derivation.
 */

import { argon2id as hashWasmArgon2id } from 'hash-wasm';
import { utf8, wipe, type Bytes } from './bytes.ts';
import { hkdfLabel } from './envelope.ts';
import { CofferCryptoError, KDFTooCostlyError, WeakKDFError } from './errors.ts';
import { LABEL_KEK, LABEL_SRP_X } from './labels.ts';

/** Argon2id parameters as the server sends them. */
export interface KDFParams {
  /** Argon2 m, in KiB. */
  memoryKiB: number;
  /** Argon2 t, passes over memory. */
  iterations: number;
  /** Argon2 p, lanes. */
  parallelism: number;
}

export const MIN_KDF_MEMORY_KIB = 64 * 1024;
export const MIN_KDF_ITERATIONS = 3;
export const MIN_KDF_PARALLELISM = 1;
export const MAX_KDF_MEMORY_KIB = 1024 * 1024;
export const MAX_KDF_ITERATIONS = 16;
export const MAX_KDF_PARALLELISM = 8;
export const SALT_SIZE = 16;
/** Default parameters for new accounts (and what a client proposes). */
export const DEFAULT_KDF: Readonly<KDFParams> = { memoryKiB: 64 * 1024, iterations: 3, parallelism: 1 };


/**
 * Checks Argon2id parameters (and, if given, the salt) against the floor
 * and ceiling of crypto.md §3: WeakKDFError below the floor,
 * KDFTooCostlyError above the ceiling, CofferCryptoError for a salt that
 * is not 16 bytes. Call before running any password through Argon2id.
 */
export function checkKDFParams(p: KDFParams, salt?: Uint8Array): void {
  for (const [k, v] of Object.entries(p)) {
    if (!Number.isSafeInteger(v) || v < 0 || v > 0xffffffff) throw new WeakKDFError(`KDF parameter ${k} is not a 32-bit unsigned integer`);
  }
  if (p.memoryKiB < MIN_KDF_MEMORY_KIB) throw new WeakKDFError(`KDF parameters below the minimum: memory ${p.memoryKiB} KiB < ${MIN_KDF_MEMORY_KIB} KiB`);
  if (p.iterations < MIN_KDF_ITERATIONS) throw new WeakKDFError(`KDF parameters below the minimum: iterations ${p.iterations} < ${MIN_KDF_ITERATIONS}`);
  if (p.parallelism < MIN_KDF_PARALLELISM) throw new WeakKDFError(`KDF parameters below the minimum: parallelism ${p.parallelism} < ${MIN_KDF_PARALLELISM}`);
  if (p.memoryKiB > MAX_KDF_MEMORY_KIB) throw new KDFTooCostlyError(`KDF parameters above the maximum: memory ${p.memoryKiB} KiB > ${MAX_KDF_MEMORY_KIB} KiB`);
  if (p.iterations > MAX_KDF_ITERATIONS) throw new KDFTooCostlyError(`KDF parameters above the maximum: iterations ${p.iterations} > ${MAX_KDF_ITERATIONS}`);
  if (p.parallelism > MAX_KDF_PARALLELISM) throw new KDFTooCostlyError(`KDF parameters above the maximum: parallelism ${p.parallelism} > ${MAX_KDF_PARALLELISM}`);
  if (salt !== undefined && salt.length !== SALT_SIZE) throw new CofferCryptoError(`KDF salt is ${salt.length} bytes, want ${SALT_SIZE}`);
}

/** The KDF as the server sends it (internal/api.KDF). */
export interface WireKDF {
  alg: string;
  memory_kib: number;
  iterations: number;
  parallelism: number;
}

/**
 * Converts the server's KDF description, refusing any algorithm but
 * "argon2id" (WeakKDFError: crypto.md §4.1 step 2) and parameters outside
 * the floor and ceiling.
 */
export function kdfParamsFromWire(k: WireKDF): KDFParams {
  if (!k || k.alg !== 'argon2id') throw new WeakKDFError(`KDF ${JSON.stringify(k?.alg)} is not argon2id`);
  const p = { memoryKiB: k.memory_kib, iterations: k.iterations, parallelism: k.parallelism };
  checkKDFParams(p);
  return p;
}

/** True if s contains no lone UTF-16 surrogate, i.e. it has a UTF-8 encoding. */
export function isWellFormedString(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

/** The UTF-8 bytes of the NFC form of a password (crypto.md §2). */
export function passwordBytes(password: string): Bytes {
  if (!isWellFormedString(password)) throw new CofferCryptoError('password is not valid Unicode (lone surrogate)');
  return utf8(password.normalize('NFC'));
}

/**
 * Argon2id(NFC(password), salt, t, m, p, 32), version 0x13, after
 * {@link checkKDFParams}. A string password is put in NFC; bytes are used
 * as given (the caller has normalized them).
 */
export async function argon2id(password: string | Uint8Array, salt: Uint8Array, p: KDFParams): Promise<Bytes> {
  checkKDFParams(p, salt);
  const pw = typeof password === 'string' ? passwordBytes(password) : password;
  try {
    const out = await hashWasmArgon2id({
      password: pw,
      salt,
      iterations: p.iterations,
      memorySize: p.memoryKiB,
      parallelism: p.parallelism,
      hashLength: 32,
      outputType: 'binary',
    });
    return new Uint8Array(out);
  } finally {
    if (typeof password === 'string') wipe(pw);
  }
}

/** The two secrets derived from a password (crypto.md §3). */
export interface PasswordKeys {
  /** SRP private value x, 32 bytes, big-endian. */
  srpX: Bytes;
  /** Key-encryption key, 32 bytes. */
  kek: Bytes;
}

/**
 * DerivePasswordKeys: Argon2id then HKDF to srp_x and kek, bound to user
 * (the raw account name). Checks the parameters and salt first.
 */
export async function derivePasswordKeys(password: string, user: string, salt: Uint8Array, p: KDFParams): Promise<PasswordKeys> {
  const pw = await argon2id(password, salt, p);
  try {
    const u = utf8(user);
    const srpX = await hkdfLabel(pw, LABEL_SRP_X, u);
    const kek = await hkdfLabel(pw, LABEL_KEK, u);
    return { srpX, kek };
  } finally {
    wipe(pw);
  }
}
