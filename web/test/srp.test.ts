// srp.json (SRP-6a, RFC 5054 3072-bit group, SHA-256) and the RFC 5054
// Appendix B vectors (1024-bit group, SHA-1), crypto.md §4.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sha1 } from '@noble/hashes/legacy.js';
import { h, eqHex, flip, loadVectors } from './helpers.ts';
import { concat, fromHex, utf8 } from '../src/crypto/bytes.ts';
import { CofferCryptoError, SRPBadProofError, SRPIllegalParameterError } from '../src/crypto/errors.ts';
import {
  bigIntToBytes,
  bytesToBigInt,
  GROUP_3072,
  modPow,
  SRPClient,
  srpClientPremaster,
  srpGroup,
  srpScramble,
  srpVerifier,
} from '../src/crypto/srp.ts';

const S = loadVectors('srp');

describe('srp.json', () => {
  it('the group is the one the vectors name', () => {
    assert.equal(S.group.name, GROUP_3072.name);
    eqHex(GROUP_3072.nBytes, S.group.N);
    assert.equal(GROUP_3072.g, BigInt('0x' + S.group.g));
  });
  for (const v of S.vectors) {
    it(`${v.name}: k, v, A, u, S, K, M1, M2`, () => {
      eqHex(bigIntToBytes(GROUP_3072.k, 32), v.k);
      eqHex(srpVerifier(h(v.x)), v.v);
      const c = new SRPClient(GROUP_3072, h(v.a));
      eqHex(c.A, v.A);
      // B as the server computes it: (k*v + g^b) mod N.
      const N = GROUP_3072.N;
      const B = (GROUP_3072.k * bytesToBigInt(h(v.v)) + modPow(5n, bytesToBigInt(h(v.b)), N)) % N;
      eqHex(bigIntToBytes(B, 384), v.B);
      const u = srpScramble(GROUP_3072, h(v.A), h(v.B));
      eqHex(u, v.u);
      eqHex(bigIntToBytes(srpClientPremaster(GROUP_3072, h(v.a), h(v.x), h(v.B), u), 384), v.S);
      // The server's S = (A * v^u)^b agrees.
      const serverS = modPow((bytesToBigInt(h(v.A)) * modPow(bytesToBigInt(h(v.v)), bytesToBigInt(u), N)) % N, bytesToBigInt(h(v.b)), N);
      eqHex(bigIntToBytes(serverS, 384), v.S);
      const m1 = c.finish(v.identity, h(v.salt), h(v.x), h(v.B));
      eqHex(m1, v.M1);
      eqHex(c.unverifiedKey!, v.K);
      assert.equal(c.key, undefined);
      c.verifyServer(h(v.M2));
      eqHex(c.key!, v.K);
    });
    it(`${v.name}: B given without its leading zero bytes gives the same M1`, () => {
      const c = new SRPClient(GROUP_3072, h(v.a));
      let B = h(v.B);
      while (B[0] === 0) B = B.subarray(1);
      eqHex(c.finish(v.identity, h(v.salt), h(v.x), B), v.M1);
    });
    it(`${v.name}: a wrong M2 is refused, and K is never released`, () => {
      const c = new SRPClient(GROUP_3072, h(v.a));
      c.finish(v.identity, h(v.salt), h(v.x), h(v.B));
      assert.throws(() => c.verifyServer(flip(h(v.M2), 31)), SRPBadProofError);
      assert.equal(c.key, undefined);
      assert.throws(() => c.verifyServer(h(v.M2)), SRPBadProofError);
    });
    it(`${v.name}: tampered salt, identity or B change M1`, () => {
      for (const [id, salt, B] of [
        [v.identity + 'x', h(v.salt), h(v.B)],
        [v.identity, flip(h(v.salt), 0), h(v.B)],
        [v.identity, h(v.salt), flip(h(v.B), 383)],
      ] as const) {
        const c = new SRPClient(GROUP_3072, h(v.a));
        const m1 = c.finish(id, salt, h(v.x), B);
        assert.notDeepEqual(m1, h(v.M1));
        assert.throws(() => c.verifyServer(h(v.M2)), SRPBadProofError);
      }
    });
  }
});

describe('SRP client refusals', () => {
  const v = S.vectors[0];
  const N = GROUP_3072.nBytes;
  const finish = (B: Uint8Array) => new SRPClient(GROUP_3072, h(v.a)).finish(v.identity, h(v.salt), h(v.x), B);
  it('B = 0, B = N, B = 2N-ish, B > N, empty or too long B', () => {
    assert.throws(() => finish(new Uint8Array(384)), SRPIllegalParameterError);
    assert.throws(() => finish(N), SRPIllegalParameterError);
    assert.throws(() => finish(bigIntToBytes(GROUP_3072.N + 1n, 384)), SRPIllegalParameterError);
    assert.throws(() => finish(new Uint8Array(0)), SRPIllegalParameterError);
    assert.throws(() => finish(concat(new Uint8Array(1), N)), SRPIllegalParameterError);
  });
  it('a zero secret a is refused; finish runs once', () => {
    assert.throws(() => new SRPClient(GROUP_3072, new Uint8Array(32)), SRPIllegalParameterError);
    const c = new SRPClient();
    c.finish(v.identity, h(v.salt), h(v.x), h(v.B));
    assert.throws(() => c.finish(v.identity, h(v.salt), h(v.x), h(v.B)), CofferCryptoError);
  });
  it('random a: A is 384 bytes and below N', () => {
    const A = new SRPClient().A;
    assert.equal(A.length, 384);
    assert.ok(bytesToBigInt(A) < GROUP_3072.N && bytesToBigInt(A) > 1n);
  });
});

// RFC 5054 Appendix B, copied from the RFC (as internal/srp/rfc5054_test.go).
const rfc = {
  N: 'EEAF0AB9 ADB38DD6 9C33F80A FA8FC5E8 60726187 75FF3C0B 9EA2314C 9C256576 D674DF74 96EA81D3 383B4813 D692C6E0 E0D5D8E2 50B98BE4 8E495C1D 6089DAD1 5DC7D7B4 6154D6B6 CE8EF4AD 69B15D49 82559B29 7BCF1885 C529F566 660E57EC 68EDBC3C 05726CC0 2FD4CBF4 976EAA9A FD5138FE 8376435B 9FC61D2F C0EB06E3',
  I: 'alice',
  P: 'password123',
  s: 'BEB25379 D1A8581E B5A72767 3A2441EE',
  k: '7556AA04 5AEF2CDD 07ABAF0F 665C3E81 8913186F',
  x: '94B7555A ABE9127C C58CCF49 93DB6CF8 4D16C124',
  v: '7E273DE8 696FFC4F 4E337D05 B4B375BE B0DDE156 9E8FA00A 9886D812 9BADA1F1 822223CA 1A605B53 0E379BA4 729FDC59 F105B478 7E5186F5 C671085A 1447B52A 48CF1970 B4FB6F84 00BBF4CE BFBB1681 52E08AB5 EA53D15C 1AFF87B2 B9DA6E04 E058AD51 CC72BFC9 033B564E 26480D78 E955A5E2 9E7AB245 DB2BE315 E2099AFB',
  a: '60975527 035CF2AD 1989806F 0407210B C81EDC04 E2762A56 AFD529DD DA2D4393',
  b: 'E487CB59 D31AC550 471E81F0 0F6928E0 1DDA08E9 74A004F4 9E61F5D1 05284D20',
  A: '61D5E490 F6F1B795 47B0704C 436F523D D0E560F0 C64115BB 72557EC4 4352E890 3211C046 92272D8B 2D1A5358 A2CF1B6E 0BFCF99F 921530EC 8E393561 79EAE45E 42BA92AE ACED8251 71E1E8B9 AF6D9C03 E1327F44 BE087EF0 6530E69F 66615261 EEF54073 CA11CF58 58F0EDFD FE15EFEA B349EF5D 76988A36 72FAC47B 0769447B',
  B: 'BD0C6151 2C692C0C B6D041FA 01BB152D 4916A1E7 7AF46AE1 05393011 BAF38964 DC46A067 0DD125B9 5A981652 236F99D9 B681CBF8 7837EC99 6C6DA044 53728610 D0C6DDB5 8B318885 D7D82C7F 8DEB75CE 7BD4FBAA 37089E6F 9C6059F3 88838E7A 00030B33 1EB76840 910440B1 B27AAEAE EB4012B7 D7665238 A8E3FB00 4B117B58',
  u: 'CE38B959 3487DA98 554ED47D 70A7AE5F 462EF019',
  S: 'B0DC82BA BCF30674 AE450C02 87745E79 90A3381F 63B387AA F271A10D 233861E3 59B48220 F7C4693C 9AE12B0A 6F67809F 0876E2D0 13800D6C 41BB59B6 D5979B5C 00A172B4 A2A5903A 0BDCAF8A 709585EB 2AFAFA8F 3499B200 210DCC1F 10EB3394 3CD67FC8 8A2F39A4 BE5BEC4E C0A3212D C346D7E4 74B29EDE 8A469FFE CA686E5A',
};
const X = (s: string) => fromHex(s.replace(/\s+/g, '').toLowerCase());
const num = (s: string) => bytesToBigInt(X(s));

describe('RFC 5054 Appendix B (1024-bit group, SHA-1)', () => {
  const g = srpGroup('rfc5054-1024-sha1', rfc.N, 2, (d) => sha1(d));
  it('k, x, v, A, B, u, S and a full handshake', () => {
    assert.equal(g.k, num(rfc.k));
    const x = sha1(concat(X(rfc.s), sha1(utf8(rfc.I + ':' + rfc.P))));
    assert.equal(bytesToBigInt(x), num(rfc.x));
    const v = srpVerifier(x, g);
    assert.equal(bytesToBigInt(v), num(rfc.v));
    const c = new SRPClient(g, X(rfc.a));
    assert.equal(bytesToBigInt(c.A), num(rfc.A));
    const B = (g.k * bytesToBigInt(v) + modPow(g.g, num(rfc.b), g.N)) % g.N;
    assert.equal(B, num(rfc.B));
    const padB = bigIntToBytes(B, 128);
    const u = srpScramble(g, c.A, padB);
    assert.equal(bytesToBigInt(u), num(rfc.u));
    assert.equal(srpClientPremaster(g, X(rfc.a), x, padB, u), num(rfc.S));
    // The RFC gives no M1/M2: check against a server computed here.
    const m1 = c.finish(rfc.I, X(rfc.s), x, padB);
    const K = g.hash(bigIntToBytes(num(rfc.S), 128));
    const m1Server = g.hash(concat(g.hNxorHg, g.hash(utf8(rfc.I)), X(rfc.s), c.A, padB, K));
    assert.deepEqual(m1, m1Server);
    c.verifyServer(g.hash(concat(c.A, m1Server, K)));
    assert.deepEqual(c.key, K);
  });
});
