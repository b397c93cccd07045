// Ed25519 key check and verification rule (crypto.md §2, §9), on the
// bundle.json vectors: honest signatures verify; small-order and
// non-canonical identity keys with R = identity, S = 0 are refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as ed from '@noble/ed25519';
import { h, eqHex, loadVectors } from './helpers.ts';
import { readU32, tagged } from '../src/crypto/bytes.ts';
import { BadEd25519KeyError } from '../src/crypto/errors.ts';
import { checkEd25519PublicKey, ed25519PublicKey, ed25519Sign, verifyEd25519 } from '../src/crypto/ed25519.ts';

const B = loadVectors('bundle');

/** Splits a signed bundle into body, identity key and signature (no checks). */
function split(signed: Uint8Array) {
  const u = readU32(signed, 1);
  const idOff = 1 + 4 + u + 8 + 4;
  const body = signed.subarray(0, signed.length - 64);
  return { body, identity: signed.subarray(idOff, idOff + 32), sig: signed.subarray(signed.length - 64) };
}

describe('bundle.json signatures', () => {
  for (const c of B.public_bundle.cases) {
    it(`${c.user}: the self-signature verifies; signing reproduces it`, () => {
      const { body, identity, sig } = split(h(c.signed_hex));
      eqHex(identity, c.identity_public_hex);
      eqHex(ed25519PublicKey(h(c.identity_seed_hex)), c.identity_public_hex);
      const msg = tagged('coffer/v1/public-bundle', body);
      eqHex(ed25519Sign(h(c.identity_seed_hex), msg), c.signature_hex);
      assert.ok(verifyEd25519(identity, msg, sig));
      assert.ok(!verifyEd25519(identity, body, sig), 'without the label');
    });
  }
  for (const c of B.public_bundle.must_fail.filter((m: any) => /small order|order 8|non-canonically/.test(m.why))) {
    it(`refused: ${c.why}`, () => {
      const { body, identity, sig } = split(h(c.signed_hex));
      const msg = tagged('coffer/v1/public-bundle', body);
      assert.throws(() => checkEd25519PublicKey(identity), BadEd25519KeyError);
      assert.throws(() => verifyEd25519(identity, msg, sig), BadEd25519KeyError);
      assert.equal(ed.verify(sig, msg, identity, { zip215: false }), false);
    });
  }
  it('noble\'s default (zip215: true) accepts the identity-point forgery: it must not be used', () => {
    const c = B.public_bundle.must_fail.find((m: any) => /identity point \(small order\)/.test(m.why));
    const { body, identity, sig } = split(h(c.signed_hex));
    assert.equal(ed.verify(sig, tagged('coffer/v1/public-bundle', body), identity), true);
  });
  it('key check: wrong length', () => {
    assert.throws(() => checkEd25519PublicKey(new Uint8Array(31)), BadEd25519KeyError);
  });
});
