/**
 * HPKE (RFC 9180, base mode, single shot) with KEM X-Wing (0x647a),
 * HKDF-SHA256 and AES-256-GCM, as crypto.md §5 and §11.4 use it:
 *
 *   sealed = 0x01 || enc (1120) || ciphertext || tag (16)
 *   info   = tagged(label, context), aad = ""
 *
 * An X-Wing private key is its 32-byte seed; SHAKE256(seed, 96) expands it
 * (Go: hpke.MLKEM768X25519().NewPrivateKey(seed)), which is what
 * @hpke/hybridkem-x-wing's generateKeyPairDerand does.
 */

import { Aes256Gcm, CipherSuite, HkdfSha256 } from '@hpke/core';
import { XWing } from '@hpke/hybridkem-x-wing';
import { concat, copyBytes, tagged, type Bytes } from './bytes.ts';
import { checkVersionByte, TAG_SIZE } from './envelope.ts';
import { CofferCryptoError, DecryptError } from './errors.ts';

export const HPKE_VERSION = 0x01;
export const XWING_ENC_SIZE = 1120;
export const XWING_PUBLIC_KEY_SIZE = 1216;
export const XWING_SEED_SIZE = 32;
/** version + enc + tag: 1137 bytes. */
export const HPKE_OVERHEAD = 1 + XWING_ENC_SIZE + TAG_SIZE;

let suiteCache: CipherSuite | undefined;
function suite(): CipherSuite {
  suiteCache ??= new CipherSuite({ kem: new XWing(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
  return suiteCache;
}

/** An X-Wing key pair made from a 32-byte seed. */
export interface XWingKeyPair {
  /** The 32-byte seed (the private key). */
  readonly seed: Bytes;
  /** ML-KEM-768 encapsulation key (1184) || X25519 public key (32): 1216 bytes. */
  readonly publicKey: Bytes;
  /** The private key in @hpke's form, for {@link hpkeOpen}. */
  readonly privateKey: CryptoKey;
}

/** X-Wing DeriveKey(seed): the key pair of a 32-byte seed (crypto.md §5). */
export async function xwingKeyPair(seed: Uint8Array): Promise<XWingKeyPair> {
  if (seed.length !== XWING_SEED_SIZE) throw new CofferCryptoError('X-Wing seed must be 32 bytes');
  const kem = suite().kem as XWing;
  const kp = await kem.generateKeyPairDerand(copyBytes(seed));
  const publicKey = new Uint8Array(await kem.serializePublicKey(kp.publicKey));
  return { seed: copyBytes(seed), publicKey, privateKey: kp.privateKey };
}

/**
 * Seals plaintext to an X-Wing public key: 0x01 || HPKE.Seal(pk, info =
 * tagged(label, context), aad = "", plaintext). Randomized.
 */
export async function hpkeSeal(publicKey: Uint8Array, label: string, context: Uint8Array, plaintext: Uint8Array): Promise<Bytes> {
  if (publicKey.length !== XWING_PUBLIC_KEY_SIZE) {
    throw new CofferCryptoError(`recipient public key is ${publicKey.length} bytes, want ${XWING_PUBLIC_KEY_SIZE}`);
  }
  const s = suite();
  let pk: CryptoKey;
  try {
    pk = await s.kem.deserializePublicKey(copyBytes(publicKey).buffer);
  } catch (e) {
    throw new CofferCryptoError('recipient public key does not parse', { cause: e });
  }
  let out: { ct: ArrayBuffer; enc: ArrayBuffer };
  try {
    out = await s.seal({ recipientPublicKey: pk, info: tagged(label, context).buffer }, copyBytes(plaintext).buffer);
  } catch (e) {
    // The ML-KEM encapsulation key modulus check fails here.
    throw new CofferCryptoError('HPKE seal failed (recipient public key does not parse?)', { cause: e });
  }
  return concat(Uint8Array.of(HPKE_VERSION), new Uint8Array(out.enc), new Uint8Array(out.ct));
}

/**
 * Opens what {@link hpkeSeal} made, with the recipient's key pair (or
 * private key) and the same label and context. Every failure is
 * DecryptError.
 */
export async function hpkeOpen(recipient: XWingKeyPair | CryptoKey, label: string, context: Uint8Array, sealed: Uint8Array): Promise<Bytes> {
  checkVersionByte(sealed, HPKE_VERSION, 'HPKE');
  if (sealed.length < HPKE_OVERHEAD) throw new DecryptError();
  const key = 'privateKey' in recipient ? recipient.privateKey : recipient;
  try {
    const pt = await suite().open(
      {
        recipientKey: key,
        enc: copyBytes(sealed.subarray(1, 1 + XWING_ENC_SIZE)).buffer,
        info: tagged(label, context).buffer,
      },
      copyBytes(sealed.subarray(1 + XWING_ENC_SIZE)).buffer,
    );
    return new Uint8Array(pt);
  } catch {
    throw new DecryptError();
  }
}

/**
 * True if publicKey is an X-Wing public key that parses: 1216 bytes whose
 * ML-KEM-768 encapsulation key passes the modulus check (Go:
 * NewPublicKey). Checked by a trial encapsulation, the only way the
 * library exposes the check.
 */
export async function isXWingPublicKey(publicKey: Uint8Array): Promise<boolean> {
  if (publicKey.length !== XWING_PUBLIC_KEY_SIZE) return false;
  const kem = suite().kem as XWing;
  try {
    await kem.encap({ recipientPublicKey: await kem.deserializePublicKey(copyBytes(publicKey).buffer) });
    return true;
  } catch {
    return false;
  }
}
