/**
 * Errors of the Coffer crypto library (docs/crypto.md).
 *
 * Every failure to open sealed data is one {@link DecryptError}, whatever
 * the cause (wrong key, wrong IDs, a flipped bit, a bad length, a bad
 * plaintext), so that errors cannot serve as an oracle (crypto.md §2, [12]).
 * The only finer fact a DecryptError carries is an unknown version byte,
 * which is public. Messages never contain names, keys or plaintext.
 */

/** Base class of every error thrown by src/crypto. */
export class CofferCryptoError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Sealed data did not open (Go: ErrDecrypt). `unsupportedVersion` is set
 * when the only problem seen was an unknown version byte (public
 * information, Go: ErrUnsupportedVersion).
 */
export class DecryptError extends CofferCryptoError {
  readonly unsupportedVersion?: number;
  constructor(message = 'decryption failed', options?: { cause?: unknown; unsupportedVersion?: number }) {
    super(message, options);
    if (options?.unsupportedVersion !== undefined) this.unsupportedVersion = options.unsupportedVersion;
  }
}

/** A name that NormalizeName refuses, or an opened name that is not canonical (Go: ErrBadName). */
export class BadNameError extends CofferCryptoError {}

/** A node or revision record that breaks the rules of crypto.md §11.6 / §12.4 (Go: ErrBadRecord). */
export class BadRecordError extends CofferCryptoError {}

/** A record signature that does not verify, under an unacceptable key, or over a malformed record (Go: ErrBadSignature). */
export class BadSignatureError extends CofferCryptoError {}

/** An Ed25519 public key that is non-canonical or of small order (Go: ErrBadEd25519Key). */
export class BadEd25519KeyError extends CofferCryptoError {}

/** A manifest whose block count does not match the sealed size (Go: ErrBadManifest). */
export class BadManifestError extends CofferCryptoError {}

/** Argon2id parameters below the floor of crypto.md §3 (Go: ErrWeakKDF). */
export class WeakKDFError extends CofferCryptoError {}

/** Argon2id parameters above the ceiling of crypto.md §3 (Go: ErrKDFTooCostly). */
export class KDFTooCostlyError extends CofferCryptoError {}

/** SRP: an illegal value from the server (B mod N = 0, u = 0, bad length; Go: srp.ErrIllegalParameter). */
export class SRPIllegalParameterError extends CofferCryptoError {}

/** SRP: the server's proof M2 is wrong (Go: srp.ErrBadProof). */
export class SRPBadProofError extends CofferCryptoError {}

/** A public link URL or link parameter that cannot be used (crypto.md §13.13). */
export class BadLinkError extends CofferCryptoError {}
