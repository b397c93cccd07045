// account.json: password KDF (Argon2id + HKDF) and the AEAD envelope
// (sealed account keys, local key cache), crypto.md §3, §6.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { h, eqHex, flip, loadVectors, rejectsWith } from './helpers.ts';
import { concat, lp, lps, tagged, u32, utf8 } from '../src/crypto/bytes.ts';
import { hkdfLabel, openEnvelope, sealEnvelope } from '../src/crypto/envelope.ts';
import { CofferCryptoError, DecryptError, KDFTooCostlyError, WeakKDFError } from '../src/crypto/errors.ts';
import { argon2id, checkKDFParams, DEFAULT_KDF, derivePasswordKeys, passwordBytes } from '../src/crypto/kdf.ts';
import { ed25519PublicKey } from '../src/crypto/ed25519.ts';
import { xwingKeyPair } from '../src/crypto/hpke.ts';

const A = loadVectors('account');
const params = (c: any) => ({ memoryKiB: Number(c.memory_kib), iterations: Number(c.iterations), parallelism: Number(c.parallelism) });

describe('account.json password_kdf', () => {
  for (const c of A.password_kdf) {
    it(`${c.user}: Argon2id m=${c.memory_kib} t=${c.iterations} p=${c.parallelism}, srp_x, kek`, async () => {
      eqHex(utf8(c.password), c.password_hex); // as typed; Argon2id gets its NFC form
      const pw = await argon2id(c.password, h(c.salt_hex), params(c));
      eqHex(pw, c.argon2id_hex);
      const hk = { srpX: await hkdfLabel(pw, 'coffer/v1/srp-x', utf8(c.user)), kek: await hkdfLabel(pw, 'coffer/v1/kek', utf8(c.user)) };
      eqHex(hk.srpX, c.srp_x_hex);
      eqHex(hk.kek, c.kek_hex);
    });
  }
  it('derivePasswordKeys (decomposed password typed, NFC used)', async () => {
    const c = A.password_kdf.find((x: any) => x.password.normalize('NFC') !== x.password) ?? A.password_kdf[0];
    const k = await derivePasswordKeys(c.password.normalize('NFD'), c.user, h(c.salt_hex), params(c));
    eqHex(k.srpX, c.srp_x_hex);
    eqHex(k.kek, c.kek_hex);
  });
});

describe('KDF floor and ceiling (crypto.md §3)', () => {
  const salt = new Uint8Array(16);
  it('accepts the default and the bounds', () => {
    checkKDFParams(DEFAULT_KDF, salt);
    checkKDFParams({ memoryKiB: 1048576, iterations: 16, parallelism: 8 }, salt);
  });
  it('refuses below the floor (downgrade)', () => {
    assert.throws(() => checkKDFParams({ memoryKiB: 65535, iterations: 3, parallelism: 1 }), WeakKDFError);
    assert.throws(() => checkKDFParams({ memoryKiB: 65536, iterations: 2, parallelism: 1 }), WeakKDFError);
    assert.throws(() => checkKDFParams({ memoryKiB: 65536, iterations: 3, parallelism: 0 }), WeakKDFError);
    assert.throws(() => checkKDFParams({ memoryKiB: -1, iterations: 3, parallelism: 1 }), WeakKDFError);
    assert.throws(() => checkKDFParams({ memoryKiB: 65536.5, iterations: 3, parallelism: 1 }), WeakKDFError);
  });
  it('refuses above the ceiling (resource exhaustion)', () => {
    assert.throws(() => checkKDFParams({ memoryKiB: 1048577, iterations: 3, parallelism: 1 }), KDFTooCostlyError);
    assert.throws(() => checkKDFParams({ memoryKiB: 65536, iterations: 17, parallelism: 1 }), KDFTooCostlyError);
    assert.throws(() => checkKDFParams({ memoryKiB: 65536, iterations: 3, parallelism: 9 }), KDFTooCostlyError);
  });
  it('refuses a salt that is not 16 bytes, before running Argon2id', async () => {
    assert.throws(() => checkKDFParams(DEFAULT_KDF, new Uint8Array(15)), CofferCryptoError);
    await assert.rejects(argon2id('pw', new Uint8Array(17), DEFAULT_KDF), CofferCryptoError);
    await assert.rejects(argon2id('pw', salt, { memoryKiB: 8, iterations: 1, parallelism: 1 }), WeakKDFError);
  });
  it('refuses a password with a lone surrogate', () => {
    assert.throws(() => passwordBytes('a\udc00'), CofferCryptoError);
  });
});

describe('account.json account_keys', () => {
  for (const c of A.account_keys) {
    it(`${c.name}: Ed25519 and X-Wing public keys from the seeds`, async () => {
      eqHex(ed25519PublicKey(h(c.identity_seed_hex)), c.identity_public_hex);
      eqHex((await xwingKeyPair(h(c.encryption_seed_hex))).publicKey, c.encryption_public_hex);
    });
  }
});

const accountFields = (c: any) => concat(lp(c.user), u32(Number(c.epoch)));

describe('account.json sealed_account_keys (envelope)', () => {
  for (const c of A.sealed_account_keys.cases) {
    it(`${c.user} epoch ${c.epoch}: AD and envelope byte for byte`, async () => {
      eqHex(tagged('coffer/v1/account-keys', accountFields(c)), c.ad_hex);
      eqHex(await sealEnvelope(h(c.kek_hex), 'coffer/v1/account-keys', accountFields(c), h(c.account_keys_hex), h(c.nonce_hex)), c.sealed_hex);
      eqHex(await openEnvelope(h(c.kek_hex), 'coffer/v1/account-keys', accountFields(c), h(c.sealed_hex)), c.account_keys_hex);
    });
  }
  for (const c of A.sealed_account_keys.must_fail) {
    it(`must fail: ${c.why}`, async () => {
      await rejectsWith(openEnvelope(h(c.kek_hex), 'coffer/v1/account-keys', accountFields(c), h(c.sealed_hex)), DecryptError, c.why);
    });
  }
  it('an unknown version byte is reported as such, still a DecryptError', async () => {
    const c = A.sealed_account_keys.cases[0];
    const sealed = h(c.sealed_hex);
    sealed[0] = 2;
    await assert.rejects(openEnvelope(h(c.kek_hex), 'coffer/v1/account-keys', accountFields(c), sealed), (e: any) => e instanceof DecryptError && e.unsupportedVersion === 2);
  });
});

describe('account.json sealed_local_keys (HKDF + envelope)', () => {
  const fields = (c: any) => lps(c.server, c.user, c.session_id);
  for (const c of A.sealed_local_keys.cases) {
    it('local_kek and envelope byte for byte', async () => {
      const kek = await hkdfLabel(h(c.unlock_key_hex), 'coffer/v1/local-kek');
      eqHex(kek, c.local_kek_hex);
      eqHex(tagged('coffer/v1/local-keys', fields(c)), c.ad_hex);
      eqHex(await sealEnvelope(kek, 'coffer/v1/local-keys', fields(c), h(c.account_keys_hex), h(c.nonce_hex)), c.sealed_hex);
    });
  }
  for (const c of A.sealed_local_keys.must_fail) {
    it(`must fail: ${c.why}`, async () => {
      const kek = await hkdfLabel(h(c.unlock_key_hex), 'coffer/v1/local-kek');
      await rejectsWith(openEnvelope(kek, 'coffer/v1/local-keys', fields(c), h(c.sealed_hex)), DecryptError, c.why);
    });
  }
});

describe('envelope tamper', () => {
  it('every bit flip, truncation, extension, wrong label or fields fails alike', async () => {
    const key = new Uint8Array(32).fill(7);
    const sealed = await sealEnvelope(key, 'coffer/v1/test', utf8('f'), utf8('hello'));
    assert.equal(sealed.length, 29 + 5);
    for (let i = 0; i < sealed.length; i++) {
      await rejectsWith(openEnvelope(key, 'coffer/v1/test', utf8('f'), flip(sealed, i, 7 - (i % 8))), DecryptError, `byte ${i}`);
    }
    await rejectsWith(openEnvelope(key, 'coffer/v1/test', utf8('f'), sealed.subarray(0, 28)), DecryptError);
    await rejectsWith(openEnvelope(key, 'coffer/v1/test', utf8('f'), new Uint8Array(0)), DecryptError);
    await rejectsWith(openEnvelope(key, 'coffer/v1/tesT', utf8('f'), sealed), DecryptError);
    await rejectsWith(openEnvelope(key, 'coffer/v1/test', utf8('g'), sealed), DecryptError);
    await rejectsWith(openEnvelope(new Uint8Array(32), 'coffer/v1/test', utf8('f'), sealed), DecryptError);
    await rejectsWith(openEnvelope(new Uint8Array(31), 'coffer/v1/test', utf8('f'), sealed), DecryptError);
  });
});
