// Public links (crypto.md §13.13): URLs, key derivation, payloads, owner
// records, SRP login, read-link checks, and anonymous uploads end to end.
// Reproduces testdata/vectors/link.json when it exists (link-vectors.test.ts).
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { flip, rejectsWith } from './helpers.ts';
import { concat, fromBase64Url, randomBytes, toBase64Url, toHex, utf8 } from '../src/crypto/bytes.ts';
import { BadLinkError, BadRecordError, BadSignatureError, CofferCryptoError, DecryptError, WeakKDFError, KDFTooCostlyError } from '../src/crypto/errors.ts';
import { ed25519PublicKey } from '../src/crypto/ed25519.ts';
import { DEFAULT_KDF } from '../src/crypto/kdf.ts';
import { newInboxKey, inboxKeyFromSeed, openInboxDrop } from '../src/crypto/inbox.ts';
import {
  checkLinkHead,
  deriveLinkKeys,
  formatLinkURL,
  LINK_READ,
  LINK_UPLOAD,
  linkAuthor,
  linkKeysFromPW,
  linkVerifier,
  newLinkID,
  openLinkOwnerRecord,
  openLinkPayload,
  parseLinkAuthor,
  parseLinkURL,
  sealLinkOwnerRecord,
  sealLinkPayload,
  selfKey,
  signLinkNodeRecord,
  signLinkRevisionRecord,
  verifyLinkChild,
  verifyLinkRoot,
  type LinkKeys,
  type LinkPayload,
} from '../src/crypto/link.ts';
import { finishLinkDrop, prepareLinkDrop } from '../src/crypto/linkdrop.ts';
import { LinkLogin } from '../src/crypto/linklogin.ts';
import { toBase64 } from '../src/crypto/bytes.ts';
import { SRPBadProofError } from '../src/crypto/errors.ts';
import { RevisionReader, RevisionWriter } from '../src/crypto/file.ts';
import { nameHash, sealName } from '../src/crypto/names.ts';
import {
  isDrop,
  KIND_FILE,
  KIND_FOLDER,
  nodeRecordFromWire,
  openRecordName,
  recordRef,
  signNodeRecord,
  verifyNodeRecord,
  type NodeRecord,
} from '../src/crypto/record.ts';
import { revisionDigest, revisionRecordFromWire, signRevisionRecord, verifyRevisionRecord, matchesHead } from '../src/crypto/revision.ts';
import { bigIntToBytes, bytesToBigInt, GROUP_3072, modPow, SRPClient } from '../src/crypto/srp.ts';
import { newID, newNodeKey, NodeKeys, unwrapNodeKey, wrapNodeKey } from '../src/crypto/tree.ts';
import { BLOCK_SIZE } from '../src/crypto/content.ts';

const ID = Uint8Array.from({ length: 16 }, (_, i) => i);
const SECRET = Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i);

describe('link URLs', () => {
  const url = formatLinkURL('https://coffer.example', ID, SECRET);
  it('format and parse round trip; 22 and 43 characters', () => {
    assert.equal(url, `https://coffer.example/s/${toBase64Url(ID)}#${toBase64Url(SECRET)}`);
    const p = parseLinkURL(url);
    assert.equal(p.base, 'https://coffer.example');
    assert.deepEqual(p.id, ID);
    assert.deepEqual(p.secret, SECRET);
    assert.equal(toBase64Url(ID).length, 22);
    assert.equal(toBase64Url(SECRET).length, 43);
    assert.equal(formatLinkURL('https://coffer.example/', ID, SECRET), url);
  });
  const id = toBase64Url(ID);
  const sec = toBase64Url(SECRET);
  const good = [
    `https://coffer.example/s/${id}#${sec}`,
    `https://coffer.example/s/${id}/#${sec}`,
    `http://localhost:8080/s/${id}#${sec}`,
    `http://127.0.0.1:1/s/${id}#${sec}`,
    `https://[::1]:65535/s/${id}#${sec}`,
    `https://[2001:db8::1]/s/${id}#${sec}`,
    `https://[::ffff:192.0.2.1]/s/${id}#${sec}`,
    `https://xn--caf-dma.example/s/${id}#${sec}`,
    `https://Coffer.Example/s/${id}#${sec}`,
  ];
  for (const u of good) it(`accepts ${u.slice(0, 40)}…`, () => assert.deepEqual(parseLinkURL(u).secret, SECRET));
  const lastBitSet = sec.slice(0, 42) + 'B'; // 'A' -> 'B' sets an unused low bit if the last char encodes 4 bits
  const bad: [string, string][] = [
    [`https://coffer.example/s/${id}`, 'no fragment'],
    [`https://coffer.example/s/${id}#`, 'empty fragment'],
    [`https://coffer.example/s/${id}#${sec}=`, 'padded secret'],
    [`https://coffer.example/s/${id}#${sec.slice(1)}`, 'short secret'],
    [`https://coffer.example/s/${id}#${sec.slice(0, 42)}+`, 'std alphabet'],
    [`https://coffer.example/s/${id}#${lastBitSet}`, 'non-canonical secret'],
    [`https://coffer.example/s/${id}?x=1#${sec}`, 'query'],
    [`ftp://coffer.example/s/${id}#${sec}`, 'scheme'],
    [`HTTPS://coffer.example/s/${id}#${sec}`, 'upper-case scheme'],
    [`https://user@coffer.example/s/${id}#${sec}`, 'user info'],
    [`https://coffer.example:0/s/${id}#${sec}`, 'port 0'],
    [`https://coffer.example:65536/s/${id}#${sec}`, 'port too big'],
    [`https://coffer.example:/s/${id}#${sec}`, 'empty port'],
    [`https://café.example/s/${id}#${sec}`, 'non-ASCII host'],
    [`https:///s/${id}#${sec}`, 'no host'],
    [`https://:80/s/${id}#${sec}`, 'port without host'],
    [`https://a:b:c/s/${id}#${sec}`, 'colons in host'],
    [`https://[zz::1]/s/${id}#${sec}`, 'bad IPv6'],
    [`https://[1.2.3.4]/s/${id}#${sec}`, 'IPv4 in brackets'],
    [`https://coffer.example/x/${id}#${sec}`, 'path not /s/'],
    [`https://coffer.example/s/${id}//#${sec}`, 'two trailing slashes'],
    [`https://coffer.example/s/${id}x#${sec}`, 'long ID'],
    [`https://coffer.example/s/${id.slice(0, 21)}B#${sec}`, 'non-canonical ID'],
    [`https://coffer.example#${sec}`, 'no path'],
    [`https://coffer.example/prefix/s/${id}#${sec}`, 'path prefix'],
  ];
  for (const [u, why] of bad) {
    it(`refuses: ${why}`, () => {
      assert.throws(() => parseLinkURL(u), (e: unknown) => e instanceof BadLinkError && !(e as Error).message.includes(sec));
    });
  }
  it('non-canonical secret: the unused bits are really set', () => {
    assert.throws(() => fromBase64Url(lastBitSet));
  });
  it('format refuses a bad base, ID or secret', () => {
    assert.throws(() => formatLinkURL('https://coffer.example/path', ID, SECRET), BadLinkError);
    assert.throws(() => formatLinkURL('https://coffer.example', ID.subarray(1), SECRET), BadLinkError);
    assert.throws(() => formatLinkURL('https://coffer.example', ID, SECRET.subarray(1)), BadLinkError);
  });
  it('link authors', () => {
    const a = linkAuthor(ID);
    assert.equal(a, 'link:' + toBase64Url(ID));
    assert.equal(a.length, 27);
    assert.deepEqual(parseLinkAuthor(a), ID);
    assert.equal(parseLinkAuthor('alice'), undefined);
    assert.equal(parseLinkAuthor('link:' + toBase64Url(ID) + 'A'), undefined);
  });
});

/** Link keys at the default KDF, derived once per password for the whole file. */
const keyCache = new Map<string, Promise<LinkKeys>>();
function keysFor(password: string, id = ID, secret = SECRET, salt = new Uint8Array(16).fill(9)): Promise<LinkKeys> {
  const k = password + toHex(id) + toHex(secret) + toHex(salt);
  if (!keyCache.has(k)) keyCache.set(k, deriveLinkKeys(secret, password, id, salt, DEFAULT_KDF));
  return keyCache.get(k)!;
}

describe('link keys', () => {
  it('checks the KDF parameters and salt before Argon2id', async () => {
    await assert.rejects(deriveLinkKeys(SECRET, '', ID, new Uint8Array(16), { memoryKiB: 65535, iterations: 3, parallelism: 1 }), WeakKDFError);
    await assert.rejects(deriveLinkKeys(SECRET, '', ID, new Uint8Array(16), { memoryKiB: 65536, iterations: 17, parallelism: 1 }), KDFTooCostlyError);
    await assert.rejects(deriveLinkKeys(SECRET, '', ID, new Uint8Array(15), DEFAULT_KDF), CofferCryptoError);
    await assert.rejects(deriveLinkKeys(SECRET.subarray(1), '', ID, new Uint8Array(16), DEFAULT_KDF), CofferCryptoError);
    await assert.rejects(deriveLinkKeys(SECRET, 'x'.repeat(1025), ID, new Uint8Array(16), DEFAULT_KDF), /1025 bytes/);
    await assert.rejects(deriveLinkKeys(SECRET, '\ud800', ID, new Uint8Array(16), DEFAULT_KDF), CofferCryptoError);
  });
  it('the HKDF step binds the link ID; passwords and NFC', async () => {
    const pw = new Uint8Array(32).fill(1);
    const a = await linkKeysFromPW(pw, ID);
    const b = await linkKeysFromPW(pw, newLinkID());
    assert.notEqual(toHex(a.linkKey), toHex(b.linkKey));
    assert.notEqual(toHex(a.srpX), toHex(a.linkKey));
    assert.notEqual(toHex(a.signSeed), toHex(a.linkKey));
    assert.deepEqual(a.signPublic, ed25519PublicKey(a.signSeed));
    const none = await keysFor('');
    const composed = await keysFor('caf\u00e9');
    const decomposed = await deriveLinkKeys(SECRET, 'cafe\u0301', ID, new Uint8Array(16).fill(9), DEFAULT_KDF);
    assert.equal(toHex(composed.linkKey), toHex(decomposed.linkKey));
    assert.notEqual(toHex(none.linkKey), toHex(composed.linkKey));
    assert.equal(linkVerifier(none).length, 384);
  });
});

/** A server's side of the SRP handshake, for tests. */
function srpServer(v: Uint8Array, b: Uint8Array) {
  const N = GROUP_3072.N;
  const B = bigIntToBytes((GROUP_3072.k * bytesToBigInt(v) + modPow(GROUP_3072.g, bytesToBigInt(b), N)) % N, 384);
  return {
    B,
    proofs(A: Uint8Array, identity: string, salt: Uint8Array) {
      const u = bytesToBigInt(GROUP_3072.hash(concat(A, B)));
      const S = modPow((bytesToBigInt(A) * modPow(bytesToBigInt(v), u, N)) % N, bytesToBigInt(b), N);
      const K = GROUP_3072.hash(bigIntToBytes(S, 384));
      const M1 = GROUP_3072.hash(concat(GROUP_3072.hNxorHg, GROUP_3072.hash(utf8(identity)), salt, A, B, K));
      return { M1, M2: GROUP_3072.hash(concat(A, M1, K)) };
    },
  };
}

describe('link SRP login', () => {
  it('identity link:<id>, x = srp_x; a wrong password gives a wrong M1', async () => {
    const salt = new Uint8Array(16).fill(9);
    const keys = await keysFor('hunter2');
    const server = srpServer(linkVerifier(keys), randomBytes(32));
    const c = new SRPClient();
    const m1 = c.finish(linkAuthor(ID), salt, keys.srpX, server.B);
    const { M1, M2 } = server.proofs(c.A, linkAuthor(ID), salt);
    assert.deepEqual(m1, M1);
    c.verifyServer(M2);
    const wrong = await keysFor('');
    const c2 = new SRPClient();
    assert.notDeepEqual(c2.finish(linkAuthor(ID), salt, wrong.srpX, server.B), server.proofs(c2.A, linkAuthor(ID), salt).M1);
  });
});

// An owner, alice, with a folder holding one file; a read link to the folder.
const ownerSeed = new Uint8Array(32).fill(0x11);
const ownerPub = ed25519PublicKey(ownerSeed);
const volume = newID();
const folderID = newID();
const parentID = newID();
const fileID = newID();
const folderKey = newNodeKey();
const fileKey = newNodeKey();

async function makeTree(content: Uint8Array) {
  const folderKeys = await NodeKeys.derive(folderKey);
  const fileKeys = await NodeKeys.derive(fileKey);
  const parentKeys = await NodeKeys.derive(newNodeKey());
  const folderRef = { volume, parent: parentID, node: folderID };
  const folder: NodeRecord = {
    volume, node: folderID, parent: parentID, kind: KIND_FOLDER,
    nameHash: nameHash(parentKeys, 'Shared'), sealedName: await sealName(parentKeys, folderRef, 'Shared'),
    sealedKey: await wrapNodeKey(parentKeys, folderRef, folderKey), author: 'alice', version: 3,
    revision: new Uint8Array(0), revisionSeq: 0, revisionDigest: new Uint8Array(32),
  };
  const w = await RevisionWriter.create({ fileKeys, volume, node: fileID, seq: 1, author: 'alice', size: content.length, modTime: 1767225600123456789n });
  const blocks: Uint8Array[] = [];
  for (let i = 0; i < w.blockCount; i++) blocks.push((await w.sealBlock(i, content.subarray(i * BLOCK_SIZE, Math.min(content.length, (i + 1) * BLOCK_SIZE)))).block);
  const rev = await w.finish();
  const fileRef = { volume, parent: folderID, node: fileID };
  const file: NodeRecord = {
    volume, node: fileID, parent: folderID, kind: KIND_FILE,
    nameHash: nameHash(folderKeys, 'report.pdf'), sealedName: await sealName(folderKeys, fileRef, 'report.pdf'),
    sealedKey: await wrapNodeKey(folderKeys, fileRef, fileKey), author: 'alice', version: 1,
    revision: rev.revision, revisionSeq: 1, revisionDigest: revisionDigest(rev),
  };
  return {
    folder, folderSig: signNodeRecord(folder, ownerSeed),
    file, fileSig: signNodeRecord(file, ownerSeed),
    rev, revSig: signRevisionRecord(rev, ownerSeed), blocks,
  };
}

describe('read links', () => {
  let keys: LinkKeys;
  let payload: LinkPayload;
  let sealed: Uint8Array;
  before(async () => {
    keys = await keysFor('');
    payload = { kind: LINK_READ, owner: 'alice', ownerIdentity: ownerPub, minVersion: 3n, nodeKey: folderKey, name: 'Shared' };
    sealed = await sealLinkPayload(keys, ID, volume, folderID, payload);
  });
  it('the payload opens for its link, volume, node and kind only', async () => {
    const p = await openLinkPayload(keys, ID, volume, folderID, LINK_READ, sealed);
    assert.equal(p.owner, 'alice');
    assert.deepEqual(p.ownerIdentity, ownerPub);
    assert.equal(p.minVersion, 3n);
    assert.deepEqual(p.nodeKey, folderKey);
    assert.equal(p.inboxPublic, undefined);
    assert.equal(p.name, 'Shared');
    await rejectsWith(openLinkPayload(keys, newLinkID(), volume, folderID, LINK_READ, sealed), DecryptError, 'other link');
    await rejectsWith(openLinkPayload(keys, ID, newID(), folderID, LINK_READ, sealed), DecryptError, 'other volume');
    await rejectsWith(openLinkPayload(keys, ID, volume, newID(), LINK_READ, sealed), DecryptError, 'other node');
    await rejectsWith(openLinkPayload(keys, ID, volume, folderID, LINK_UPLOAD, sealed), DecryptError, 'other kind');
    await rejectsWith(openLinkPayload(keys, ID, volume, folderID, 3, sealed), DecryptError, 'unknown kind');
    await rejectsWith(openLinkPayload(await keysFor('pw'), ID, volume, folderID, LINK_READ, sealed), DecryptError, 'wrong password');
    for (let i = 0; i < sealed.length; i += 7) await rejectsWith(openLinkPayload(keys, ID, volume, folderID, LINK_READ, flip(sealed, i)), DecryptError, `bit ${i}`);
    await rejectsWith(openLinkPayload(keys, ID, volume, folderID, LINK_READ, sealed.subarray(0, sealed.length - 1)), DecryptError, 'truncated');
  });
  it('a validly sealed payload that breaks the rules does not open', async () => {
    const { sealEnvelope } = await import('../src/crypto/envelope.ts');
    const { lp, lps, u64, u8 } = await import('../src/crypto/bytes.ts');
    const { namePlaintext } = await import('../src/crypto/names.ts');
    const fields = concat(lps(ID, volume, folderID), u8(LINK_READ));
    const plain = (o: { v?: number; k?: number; owner?: string; id?: Uint8Array; key?: Uint8Array; inbox?: Uint8Array; name?: Uint8Array; tail?: Uint8Array }) =>
      concat(u8(o.v ?? 1), u8(o.k ?? LINK_READ), lp(o.owner ?? 'alice'), o.id ?? ownerPub, u64(3), lp(o.key ?? folderKey), lp(o.inbox ?? new Uint8Array(0)), o.name ?? namePlaintext('Shared'), o.tail ?? new Uint8Array(0));
    const smallOrder = new Uint8Array(32); smallOrder[0] = 1;
    const cases: [string, Uint8Array][] = [
      ['version 2', plain({ v: 2 })],
      ['kind differs from the AD', plain({ k: LINK_UPLOAD })],
      ['empty owner', plain({ owner: '' })],
      ['owner of 256 bytes', plain({ owner: 'o'.repeat(256) })],
      ['small-order owner key', plain({ id: smallOrder })],
      ['all-zero node key', plain({ key: new Uint8Array(32) })],
      ['31-byte node key', plain({ key: new Uint8Array(31).fill(1) })],
      ['read link with an inbox key', plain({ inbox: (await newInboxKey()).publicKey })],
      ['name not NFC', plain({ name: concat(Uint8Array.of(0, 3), utf8('e\u0301'), new Uint8Array(27)) })],
      ['a byte after the name', plain({ tail: new Uint8Array(1) })],
      ['no name', plain({ name: new Uint8Array(0) })],
    ];
    for (const [why, pt] of cases) {
      const s = await sealEnvelope(keys.linkKey, 'coffer/v1/link-payload', fields, pt);
      await rejectsWith(openLinkPayload(keys, ID, volume, folderID, LINK_READ, s), DecryptError, why);
    }
    const ok = await sealEnvelope(keys.linkKey, 'coffer/v1/link-payload', fields, plain({}));
    assert.equal((await openLinkPayload(keys, ID, volume, folderID, LINK_READ, ok)).name, 'Shared');
  });
  it('sealing refuses what opening refuses', async () => {
    await assert.rejects(sealLinkPayload(keys, ID, volume, folderID, { ...payload, nodeKey: new Uint8Array(32) }));
    await assert.rejects(sealLinkPayload(keys, ID, volume, folderID, { ...payload, owner: '' }));
    await assert.rejects(sealLinkPayload(keys, ID, volume, folderID, { ...payload, name: 'a/b' }));
    await assert.rejects(sealLinkPayload(keys, newLinkID(), volume, folderID, payload));
    await assert.rejects(sealLinkPayload(keys, ID, volume, folderID, { ...payload, kind: LINK_UPLOAD }));
  });
  it('a folder and a file under it verify, open and download', async () => {
    const content = randomBytes(1000);
    const t = await makeTree(content);
    const p = await openLinkPayload(keys, ID, volume, folderID, LINK_READ, sealed);
    verifyLinkRoot(p, volume, folderID, t.folder, t.folderSig);
    const folderKeys = await NodeKeys.derive(p.nodeKey!);
    verifyLinkChild(p, { volume, node: folderID }, t.file, t.fileSig);
    assert.equal(await openRecordName(folderKeys, t.file), 'report.pdf');
    const fk = await unwrapNodeKey(folderKeys, recordRef(t.file), t.file.sealedKey);
    checkLinkHead(p, t.file, t.rev);
    const r = await RevisionReader.open(await NodeKeys.derive(fk), t.file, t.rev);
    assert.equal(r.size, 1000);
    const out = await r.openBlock(0, t.blocks[0]!);
    r.finish();
    assert.deepEqual(out, content);
  });
  it('refuses the server\'s substitutions', async () => {
    const t = await makeTree(randomBytes(10));
    const p = await openLinkPayload(keys, ID, volume, folderID, LINK_READ, sealed);
    // An older record of the linked node than the link (rollback).
    const older = { ...t.folder, version: 2 };
    assert.throws(() => verifyLinkRoot(p, volume, folderID, older, signNodeRecord(older, ownerSeed)), BadRecordError);
    // Another node as the root, a record by someone else, a bad signature.
    assert.throws(() => verifyLinkRoot(p, volume, fileID, t.folder, t.folderSig), BadRecordError);
    const mallorySeed = new Uint8Array(32).fill(0x66);
    const byMallory = { ...t.file, author: 'mallory' };
    assert.throws(() => verifyLinkChild(p, { volume, node: folderID }, byMallory, signNodeRecord(byMallory, mallorySeed)), BadSignatureError);
    assert.throws(() => verifyLinkChild(p, { volume, node: folderID }, t.file, signNodeRecord(t.file, mallorySeed)), BadSignatureError);
    assert.throws(() => verifyLinkChild(p, { volume, node: parentID }, t.file, t.fileSig), BadRecordError);
    // A head written by someone else is refused even if the owner's record names it.
    const rev2 = { ...t.rev, author: 'bob' };
    const file2 = { ...t.file, revisionDigest: revisionDigest(rev2) };
    assert.throws(() => checkLinkHead(p, file2, rev2), BadSignatureError);
    assert.throws(() => checkLinkHead(p, t.file, rev2), BadRecordError);
  });
  it('a multi-block file: blocks in order, IDs and whole-file hash checked', async () => {
    const content = randomBytes(BLOCK_SIZE + 5);
    const t = await makeTree(content);
    const fk = await NodeKeys.derive(fileKey);
    const r = await RevisionReader.open(fk, t.file, t.rev);
    assert.equal(r.blockCount, 2);
    await assert.rejects(r.openBlock(1, t.blocks[1]!), CofferCryptoError);
    await rejectsWith(r.openBlock(0, t.blocks[1]!), DecryptError, 'swapped block');
    const a = await r.openBlock(0, t.blocks[0]!);
    const b = await r.openBlock(1, t.blocks[1]!);
    r.finish();
    assert.deepEqual(concat(a, b), content);
  });
});

describe('upload links (anonymous drops)', () => {
  it('an upload end to end: the owner verifies and opens it with its owner record', async () => {
    const keys = await keysFor('');
    const inbox = await newInboxKey();
    const folderKeys = await NodeKeys.derive(folderKey);
    // The owner makes the link.
    const payload: LinkPayload = { kind: LINK_UPLOAD, owner: 'alice', ownerIdentity: ownerPub, minVersion: 3n, inboxPublic: inbox.publicKey, name: 'Inbox' };
    const sealedPayload = await sealLinkPayload(keys, ID, volume, folderID, payload);
    const encSeed = new Uint8Array(32).fill(0x22);
    const self = await selfKey(encSeed, 'alice');
    const ownerRecord = await sealLinkOwnerRecord(self, ID, volume, folderID, LINK_UPLOAD, { secret: SECRET, password: '', signPublic: keys.signPublic, inboxSeed: inbox.seed });
    // The uploader opens the payload and drops a file.
    const p = await openLinkPayload(keys, ID, volume, folderID, LINK_UPLOAD, sealedPayload);
    assert.deepEqual(p.inboxPublic, inbox.publicKey);
    assert.equal(p.nodeKey, undefined);
    const content = utf8('Hello, Coffer!\n');
    const d = await prepareLinkDrop(p, volume, folderID, 'Scan 2026-01.pdf');
    const w = await RevisionWriter.create({ fileKeys: d.fileKeys, volume, node: d.node, seq: 1, author: linkAuthor(ID), size: content.length, modTime: 0n });
    const sb = await w.sealBlock(0, content);
    const rev = await w.finish();
    const body = JSON.parse(JSON.stringify(finishLinkDrop(keys, d, rev)));
    // What the server stores: version 1, kind 2, no sealed name, parent = folder, author link:<id>.
    assert.equal(body.node.version, 1);
    assert.equal(body.node.kind, 2);
    assert.equal(body.node.sealed_name, null);
    assert.equal(body.node.author, linkAuthor(ID));
    assert.equal(body.revision.author, linkAuthor(ID));
    // The owner's side.
    const rec = await openLinkOwnerRecord(self, ID, volume, folderID, LINK_UPLOAD, ownerRecord);
    const n = nodeRecordFromWire(body.node);
    const rv = revisionRecordFromWire(body.revision);
    assert.ok(isDrop(n.record));
    verifyNodeRecord(n.record, rec.signPublic, n.signature);
    verifyRevisionRecord(rv.record, rec.signPublic, rv.signature);
    matchesHead(rv.record, n.record);
    const ik = await inboxKeyFromSeed(rec.inboxSeed);
    const opened = await openInboxDrop(ik, recordRef(n.record), n.record.sealedKey);
    assert.equal(opened.name, 'Scan 2026-01.pdf');
    const reader = await RevisionReader.open(await NodeKeys.derive(opened.nodeKey), n.record, rv.record);
    assert.deepEqual(await reader.openBlock(0, sb.block), content);
    reader.finish();
    // Other keys do not verify it; the folder's own name key is not involved.
    assert.throws(() => verifyNodeRecord(n.record, ownerPub, n.signature), BadSignatureError);
    await rejectsWith(openRecordName(folderKeys, n.record), DecryptError);
  });
  it('link signing refuses a non-drop or another author', async () => {
    const keys = await keysFor('');
    const t = await makeTree(randomBytes(3));
    assert.throws(() => signLinkNodeRecord({ ...t.file, author: linkAuthor(ID) }, keys), BadRecordError);
    assert.throws(() => signLinkRevisionRecord(t.rev, keys), CofferCryptoError);
  });
  it('an empty file has zero blocks', async () => {
    const keys = await keysFor('');
    const inbox = await newInboxKey();
    const p: LinkPayload = { kind: LINK_UPLOAD, owner: 'alice', ownerIdentity: ownerPub, minVersion: 1n, inboxPublic: inbox.publicKey, name: 'Inbox' };
    const d = await prepareLinkDrop(p, volume, folderID, 'empty.txt');
    const w = await RevisionWriter.create({ fileKeys: d.fileKeys, volume, node: d.node, seq: 1, author: linkAuthor(ID), size: 0, modTime: 0n });
    assert.equal(w.blockCount, 0);
    const rev = await w.finish();
    const body = finishLinkDrop(keys, d, rev);
    assert.deepEqual(body.revision.blocks, []);
    const n = nodeRecordFromWire(JSON.parse(JSON.stringify(body.node)));
    const r = await RevisionReader.open(d.fileKeys, n.record, rev);
    assert.equal(r.size, 0);
    r.finish();
  });
  it('owner records: read and upload, bound to link, volume, node and kind', async () => {
    const self = await selfKey(new Uint8Array(32).fill(0x22), 'alice');
    const other = await selfKey(new Uint8Array(32).fill(0x22), 'bob');
    const read = await sealLinkOwnerRecord(self, ID, volume, folderID, LINK_READ, { secret: SECRET, password: 'caf\u00e9', signPublic: new Uint8Array(0), inboxSeed: new Uint8Array(0) });
    const r = await openLinkOwnerRecord(self, ID, volume, folderID, LINK_READ, read);
    assert.equal(r.password, 'caf\u00e9');
    assert.deepEqual(r.secret, SECRET);
    await rejectsWith(openLinkOwnerRecord(other, ID, volume, folderID, LINK_READ, read), DecryptError);
    await rejectsWith(openLinkOwnerRecord(self, ID, volume, folderID, LINK_UPLOAD, read), DecryptError);
    await rejectsWith(openLinkOwnerRecord(self, newLinkID(), volume, folderID, LINK_READ, read), DecryptError);
    await rejectsWith(openLinkOwnerRecord(self, ID, volume, folderID, LINK_READ, flip(read, 20)), DecryptError);
    await assert.rejects(sealLinkOwnerRecord(self, ID, volume, folderID, LINK_READ, { secret: SECRET, password: '', signPublic: ownerPub, inboxSeed: new Uint8Array(0) }));
    await assert.rejects(sealLinkOwnerRecord(self, ID, volume, folderID, LINK_UPLOAD, { secret: SECRET, password: '', signPublic: ownerPub, inboxSeed: new Uint8Array(31) }));
  });
});

describe('LinkLogin (the protocol steps of opening a link)', () => {
  const salt = new Uint8Array(16).fill(9);
  const info = (o: Partial<{ id: string; kind: number; password: boolean; alg: string; m: number; salt: Uint8Array }> = {}) => ({
    id: o.id ?? toBase64(ID), kind: o.kind ?? LINK_READ, password: o.password ?? true, salt: toBase64(o.salt ?? salt),
    kdf: { alg: o.alg ?? 'argon2id', memory_kib: o.m ?? 65536, iterations: 3, parallelism: 1 },
  });
  const url = { base: 'https://coffer.example', id: ID, secret: SECRET };
  async function serve(login: LinkLogin, o: { kind?: number; node?: Uint8Array; m2?: 'bad' } = {}) {
    const keys = await keysFor('pw');
    const server = srpServer(linkVerifier(keys), randomBytes(32));
    const m1 = login.finish(server.B);
    const { M1, M2 } = server.proofs(login.A, linkAuthor(ID), salt);
    assert.deepEqual(m1, M1);
    const payload = await sealLinkPayload(keys, ID, volume, folderID, { kind: LINK_READ, owner: 'alice', ownerIdentity: ownerPub, minVersion: 3n, nodeKey: folderKey, name: 'Shared' });
    return {
      m2: toBase64(o.m2 ? flip(M2, 0) : M2), token: 't', volume: toBase64(volume), node: toBase64(o.node ?? folderID),
      kind: o.kind ?? LINK_READ, payload: toBase64(payload),
    };
  }
  it('opens a link with a password', async () => {
    const login = await LinkLogin.start(url, info(), 'pw');
    const link = await login.complete(await serve(login));
    assert.equal(link.payload.name, 'Shared');
    assert.deepEqual(link.node, folderID);
    assert.equal(link.token, 't');
  });
  it('refuses info for another link, an unknown kind, another KDF, weak parameters, a bad salt', async () => {
    await assert.rejects(LinkLogin.start(url, info({ id: toBase64(newLinkID()) }), 'pw'), CofferCryptoError);
    await assert.rejects(LinkLogin.start(url, info({ kind: 3 }), 'pw'), CofferCryptoError);
    await assert.rejects(LinkLogin.start(url, info({ alg: 'pbkdf2' }), 'pw'), WeakKDFError);
    await assert.rejects(LinkLogin.start(url, info({ m: 1024 }), 'pw'), WeakKDFError);
    await assert.rejects(LinkLogin.start(url, info({ m: 1 << 21 }), 'pw'), KDFTooCostlyError);
    await assert.rejects(LinkLogin.start(url, info({ salt: new Uint8Array(8) }), 'pw'), CofferCryptoError);
  });
  it('refuses a wrong M2, a changed kind and a payload for another node', async () => {
    let login = await LinkLogin.start(url, info(), 'pw');
    await assert.rejects(login.complete(await serve(login, { m2: 'bad' })), SRPBadProofError);
    login = await LinkLogin.start(url, info(), 'pw');
    await assert.rejects(login.complete(await serve(login, { kind: LINK_UPLOAD })), CofferCryptoError);
    login = await LinkLogin.start(url, info(), 'pw');
    await rejectsWith(login.complete(await serve(login, { node: fileID })), DecryptError);
  });
  it('a wrong password: M1 differs, so the server refuses (and M2 could not verify)', async () => {
    const login = await LinkLogin.start(url, info(), 'wrong');
    const fin = await serve(login).catch((e) => e);
    assert.ok(fin instanceof assert.AssertionError);
  });
});
