// testdata/vectors/link.json (crypto.md §13.13), reproduced byte for byte.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { h, eqHex, hasVectors, loadVectors, recordOf, rejectsWith, revisionOf } from './helpers.ts';
import { concat, lps, tagged, toHex, u8, utf8 } from '../src/crypto/bytes.ts';
import { CofferCryptoError, BadSignatureError, DecryptError } from '../src/crypto/errors.ts';
import { ed25519PublicKey } from '../src/crypto/ed25519.ts';
import { argon2id } from '../src/crypto/kdf.ts';
import { inboxKeyFromSeed, openInboxDrop } from '../src/crypto/inbox.ts';
import {
  deriveLinkKeys,
  formatLinkURL,
  linkAuthor,
  linkKeysFromPW,
  linkVerifier,
  openLinkOwnerRecord,
  openLinkPayload,
  parseLinkAuthor,
  parseLinkURL,
  sealLinkOwnerRecord,
  sealLinkPayload,
  selfKey,
  signLinkNodeRecord,
  signLinkRevisionRecord,
  type LinkKeys,
} from '../src/crypto/link.ts';
import { isDrop, marshalNodeRecord, recordRef, verifyNodeRecord } from '../src/crypto/record.ts';
import { marshalRevisionRecord, matchesHead, revisionDigest, verifyRevisionRecord } from '../src/crypto/revision.ts';
import { bigIntToBytes, bytesToBigInt, GROUP_3072, modPow, SRPClient, srpClientPremaster, srpScramble } from '../src/crypto/srp.ts';
import { BlockSealer, openAttrs, openContentKey } from '../src/crypto/content.ts';
import { NodeKeys } from '../src/crypto/tree.ts';

const present = hasVectors('link');
const L = present ? loadVectors('link') : undefined;
const params = (c: any) => ({ memoryKiB: Number(c.memory_kib), iterations: Number(c.iterations), parallelism: Number(c.parallelism) });
/** Link keys holding only what a vector gives. */
const keysOf = (c: any): LinkKeys => {
  const signSeed = h(c.sign_seed_hex);
  return { id: h(c.link_id_hex), srpX: h(c.srp_x_hex), linkKey: h(c.link_key_hex), signSeed, signPublic: signSeed.length ? ed25519PublicKey(signSeed) : new Uint8Array(0) };
};
const ad = (label: string, c: any) => tagged(label, concat(lps(h(c.link_id_hex), h(c.volume_hex), h(c.node_hex)), u8(Number(c.kind))));

describe('link.json', { skip: present ? false : 'testdata/vectors/link.json not generated yet' }, () => {
  describe('url', () => {
    for (const c of L?.url.cases ?? []) {
      it(`formats and parses ${c.url}`, () => {
        assert.equal(formatLinkURL(c.base, h(c.link_id_hex), h(c.secret_hex)), c.url);
        const p = parseLinkURL(c.url);
        assert.equal(p.base, c.base);
        eqHex(p.id, c.link_id_hex);
        eqHex(p.secret, c.secret_hex);
      });
    }
    for (const c of L?.url.also_parses ?? []) {
      it(`also parses: ${c.why}`, () => {
        const p = parseLinkURL(c.url);
        assert.equal(p.base, c.base);
        eqHex(p.id, c.link_id_hex);
        eqHex(p.secret, c.secret_hex);
        assert.equal(formatLinkURL(p.base, p.id, p.secret), c.formats_as);
      });
    }
    for (const c of L?.url.must_fail ?? []) {
      it(`must fail: ${c.why}`, () => {
        assert.throws(() => parseLinkURL(c.url), CofferCryptoError);
      });
    }
  });

  describe('keys', () => {
    for (const c of L?.keys.cases ?? []) {
      it(`${c.link}: Argon2id input and output, srp_x, verifier, link_key, sign_seed, sign_public`, async () => {
        eqHex(utf8(c.password.normalize('NFC')), c.password_nfc_hex);
        eqHex(concat(h(c.secret_hex), h(c.password_nfc_hex)), c.argon2id_input_hex);
        const pw = await argon2id(h(c.argon2id_input_hex), h(c.salt_hex), params(c));
        eqHex(pw, c.argon2id_hex);
        const k = await linkKeysFromPW(pw, h(c.link_id_hex));
        eqHex(k.srpX, c.srp_x_hex);
        eqHex(k.linkKey, c.link_key_hex);
        eqHex(k.signSeed, c.sign_seed_hex);
        eqHex(k.signPublic, c.sign_public_hex);
        eqHex(linkVerifier(k), c.verifier_hex);
        assert.equal(linkAuthor(h(c.link_id_hex)), c.identity);
        eqHex(parseLinkAuthor(c.identity)!, c.link_id_hex);
      });
    }
    it('deriveLinkKeys end to end (the password as typed)', async () => {
      const c = L.keys.cases[L.keys.cases.length - 1];
      const k = await deriveLinkKeys(h(c.secret_hex), c.password, h(c.link_id_hex), h(c.salt_hex), params(c));
      eqHex(k.linkKey, c.link_key_hex);
      eqHex(k.srpX, c.srp_x_hex);
      eqHex(k.signPublic, c.sign_public_hex);
    });
    for (const c of L?.keys.must_fail ?? []) {
      it(`must fail before Argon2id: ${c.why}`, async () => {
        const t0 = performance.now();
        await assert.rejects(deriveLinkKeys(h(c.secret_hex), c.password, h(c.link_id_hex), h(c.salt_hex), params(c)), CofferCryptoError);
        assert.ok(performance.now() - t0 < 100, 'refused without running Argon2id');
      });
    }
  });

  describe('payload', () => {
    for (const c of L?.payload.cases ?? []) {
      it(`${c.link}: AD, plaintext and sealed payload byte for byte; opens`, async () => {
        eqHex(ad('coffer/v1/link-payload', c), c.ad_hex);
        const k = keysOf(c);
        const p = {
          kind: Number(c.kind),
          owner: c.owner,
          ownerIdentity: h(c.owner_identity_hex),
          minVersion: BigInt(c.min_version),
          nodeKey: c.node_key_hex ? h(c.node_key_hex) : undefined,
          inboxPublic: c.inbox_public_hex ? h(c.inbox_public_hex) : undefined,
          name: c.name,
        };
        eqHex(await sealLinkPayload(k, h(c.link_id_hex), h(c.volume_hex), h(c.node_hex), p, h(c.nonce_hex)), c.sealed_hex);
        const o = await openLinkPayload(k, h(c.link_id_hex), h(c.volume_hex), h(c.node_hex), Number(c.kind), h(c.sealed_hex));
        assert.equal(o.kind, p.kind);
        assert.equal(o.owner, c.owner);
        eqHex(o.ownerIdentity, c.owner_identity_hex);
        assert.equal(o.minVersion, p.minVersion);
        eqHex(o.nodeKey ?? new Uint8Array(0), c.node_key_hex);
        eqHex(o.inboxPublic ?? new Uint8Array(0), c.inbox_public_hex);
        assert.equal(o.name, c.name);
      });
    }
    for (const c of L?.payload.must_fail ?? []) {
      it(`must fail: ${c.why}`, async () => {
        await rejectsWith(openLinkPayload(keysOf(c), h(c.link_id_hex), h(c.volume_hex), h(c.node_hex), Number(c.kind), h(c.sealed_hex)), DecryptError, c.why);
      });
    }
  });

  describe('self_key', () => {
    for (const c of L?.self_key ?? []) {
      it(`${c.user}`, async () => {
        eqHex(tagged('coffer/v1/self-key', utf8(c.user)), c.info_hex);
        eqHex(await selfKey(h(c.encryption_seed_hex), c.user), c.self_key_hex);
      });
    }
  });

  describe('owner_record', () => {
    for (const c of L?.owner_record.cases ?? []) {
      it(`${c.link}: AD and sealed record byte for byte; opens`, async () => {
        eqHex(ad('coffer/v1/link-owner', c), c.ad_hex);
        const rec = { secret: h(c.secret_hex), password: c.password_typed, signPublic: h(c.sign_public_hex), inboxSeed: h(c.inbox_seed_hex) };
        eqHex(await sealLinkOwnerRecord(h(c.self_key_hex), h(c.link_id_hex), h(c.volume_hex), h(c.node_hex), Number(c.kind), rec, h(c.nonce_hex)), c.sealed_hex);
        const o = await openLinkOwnerRecord(h(c.self_key_hex), h(c.link_id_hex), h(c.volume_hex), h(c.node_hex), Number(c.kind), h(c.sealed_hex));
        eqHex(o.secret, c.secret_hex);
        assert.equal(o.password, c.password);
        eqHex(o.signPublic, c.sign_public_hex);
        eqHex(o.inboxSeed, c.inbox_seed_hex);
      });
    }
    for (const c of L?.owner_record.must_fail ?? []) {
      it(`must fail: ${c.why}`, async () => {
        await rejectsWith(openLinkOwnerRecord(h(c.self_key_hex), h(c.link_id_hex), h(c.volume_hex), h(c.node_hex), Number(c.kind), h(c.sealed_hex)), DecryptError, c.why);
      });
    }
  });

  describe('drop_record', () => {
    for (const c of L?.drop_record.cases ?? []) {
      it('node record: encodes and signs with the link key byte for byte; the owner verifies it', () => {
        const r = recordOf(c);
        assert.equal(isDrop(r), c.is_drop);
        eqHex(marshalNodeRecord(r), c.marshaled_hex);
        const k = keysOf(c);
        eqHex(k.signPublic, c.author_public_hex);
        assert.equal(c.author, linkAuthor(k.id));
        eqHex(signLinkNodeRecord(r, k), c.signature_hex);
        verifyNodeRecord(r, h(c.author_public_hex), h(c.signature_hex));
      });
      it('revision: encodes, digests and signs byte for byte; is the head', () => {
        const rv = revisionOf(c.revision);
        eqHex(marshalRevisionRecord(rv), c.revision.marshaled_hex);
        eqHex(revisionDigest(rv), c.revision.digest_hex);
        eqHex(signLinkRevisionRecord(rv, keysOf(c)), c.revision.signature_hex);
        verifyRevisionRecord(rv, h(c.author_public_hex), h(c.revision.signature_hex));
        matchesHead(rv, recordOf(c));
      });
      it('the owner opens the drop, the content key, the attributes and the block', async () => {
        const ik = await inboxKeyFromSeed(h(c.drop.inbox_seed_hex));
        const d = await openInboxDrop(ik, recordRef(recordOf(c)), h(c.sealed_key_hex));
        eqHex(d.nodeKey, c.drop.node_key_hex);
        assert.equal(d.name, c.drop.name);
        const rv = c.revision;
        const ids = [h(rv.volume_hex), h(rv.node_hex), h(rv.revision_hex)] as const;
        const ck = await openContentKey(await NodeKeys.derive(d.nodeKey), ...ids, h(rv.sealed_content_key_hex));
        eqHex(ck, rv.content_key_hex);
        const a = await openAttrs(ck, ...ids, h(rv.sealed_attrs_hex));
        assert.equal(a.size, BigInt(rv.size));
        assert.equal(a.modTime, BigInt(rv.mtime));
        eqHex(a.sha256, rv.sha256_hex);
        const s = await BlockSealer.create(ck, ...ids);
        const pt = await s.open(h(rv.sealed_block_hex), 0, true);
        assert.equal(new TextDecoder().decode(pt.subarray(0, Number(rv.size))), rv.plaintext);
        eqHex(new Uint8Array(await crypto.subtle.digest('SHA-256', pt.subarray(0, Number(rv.size)))), rv.sha256_hex);
      });
    }
    for (const c of L?.drop_record.must_fail ?? []) {
      it(`must fail: ${c.why}`, () => {
        assert.throws(() => verifyNodeRecord(recordOf(c), h(c.author_public_hex), h(c.signature_hex)), BadSignatureError);
      });
    }
    for (const c of L?.drop_record.revision_must_fail ?? []) {
      it(`revision must fail: ${c.why}`, () => {
        assert.throws(() => verifyRevisionRecord(revisionOf(c), h(c.author_public_hex), h(c.signature_hex)), BadSignatureError);
      });
    }
  });

  describe('srp', () => {
    for (const c of L?.srp ?? []) {
      it(`${c.link}: A, B, u, S, K, M1, M2`, () => {
        const N = GROUP_3072.N;
        const cl = new SRPClient(GROUP_3072, h(c.a_hex));
        eqHex(cl.A, c.A_hex);
        const B = (GROUP_3072.k * bytesToBigInt(h(c.verifier_hex)) + modPow(GROUP_3072.g, bytesToBigInt(h(c.b_hex)), N)) % N;
        eqHex(bigIntToBytes(B, 384), c.B_hex);
        const u = srpScramble(GROUP_3072, h(c.A_hex), h(c.B_hex));
        eqHex(u, c.u_hex);
        eqHex(bigIntToBytes(srpClientPremaster(GROUP_3072, h(c.a_hex), h(c.x_hex), h(c.B_hex), u), 384), c.S_hex);
        eqHex(cl.finish(c.identity, h(c.salt_hex), h(c.x_hex), h(c.B_hex)), c.M1_hex);
        cl.verifyServer(h(c.M2_hex));
        eqHex(cl.key!, c.K_hex);
        assert.equal(toHex(cl.key!), c.K_hex);
      });
    }
  });
});
