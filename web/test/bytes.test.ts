// bytes.ts: codecs and encodings of crypto.md §2.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  concat,
  ctEqual,
  fromBase64,
  fromBase64Url,
  fromHex,
  i64,
  lp,
  Reader,
  readI64,
  tagged,
  toBase64,
  toBase64Url,
  toHex,
  u16,
  u32,
  u64,
} from '../src/crypto/bytes.ts';

describe('base64 and base64url', () => {
  it('agree with Node for every length 0..64 and random contents', () => {
    for (let n = 0; n <= 64; n++) {
      const b = crypto.getRandomValues(new Uint8Array(n));
      assert.equal(toBase64(b), Buffer.from(b).toString('base64'));
      assert.equal(toBase64Url(b), Buffer.from(b).toString('base64url'));
      assert.deepEqual(fromBase64(toBase64(b)), b);
      assert.deepEqual(fromBase64Url(toBase64Url(b)), b);
    }
  });
  it('are strict: padding, alphabet, whitespace, trailing bits', () => {
    for (const bad of ['QQ', 'QQ=', 'Q===', 'QR==', 'QQ==\n', 'Q Q==', 'QQ-_', '@@@@']) assert.throws(() => fromBase64(bad), bad);
    for (const bad of ['QQ==', 'QR', 'Q', 'QQ+/', 'QQ ', 'A']) assert.throws(() => fromBase64Url(bad), bad);
    assert.deepEqual(fromBase64Url('QQ'), Uint8Array.of(0x41));
    assert.deepEqual(fromBase64(''), new Uint8Array(0));
  });
  it('a 16-byte ID is 22 characters, a 32-byte secret 43', () => {
    assert.equal(toBase64Url(new Uint8Array(16)).length, 22);
    assert.equal(toBase64Url(new Uint8Array(32)).length, 43);
  });
});

describe('integers, LP, tagged', () => {
  it('big-endian encodings', () => {
    assert.equal(toHex(u16(0x0102)), '0102');
    assert.equal(toHex(u32(0x01020304)), '01020304');
    assert.equal(toHex(u64(1n << 56n)), '0100000000000000');
    assert.equal(toHex(u64(2 ** 53 - 1)), '001fffffffffffff');
    assert.equal(toHex(i64(-1n)), 'ffffffffffffffff');
    assert.equal(readI64(i64(-5n)), -5n);
    assert.throws(() => u64(-1));
    assert.throws(() => u64(2 ** 53));
    assert.throws(() => u64(1n << 64n));
    assert.throws(() => u32(2 ** 32));
  });
  it('LP and tagged', () => {
    assert.equal(toHex(lp('ab')), '000000026162');
    assert.equal(toHex(tagged('x', Uint8Array.of(1), Uint8Array.of(2))), '78000102');
  });
  it('Reader refuses short input', () => {
    const r = new Reader(concat(lp('abc'), u16(7)));
    assert.deepEqual(r.lp(), fromHex('616263'));
    assert.equal(r.u16(), 7);
    assert.equal(r.u8(), undefined);
    assert.ok(r.empty);
    assert.equal(new Reader(fromHex('00000005ab')).lp(), undefined);
  });
  it('ctEqual', () => {
    assert.ok(ctEqual(fromHex('0102'), fromHex('0102')));
    assert.ok(!ctEqual(fromHex('0102'), fromHex('0103')));
    assert.ok(!ctEqual(fromHex('0102'), fromHex('01')));
    assert.ok(ctEqual(new Uint8Array(0), new Uint8Array(0)));
  });
});
