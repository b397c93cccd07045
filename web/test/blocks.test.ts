// Blocks opened apart from the reader (BlockOpener, RevisionReader.addBlock)
// and the block jobs the link page runs on workers (app/blocks.ts), with
// fetch replaced by a stub server.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rejectsWith } from './helpers.ts';
import { concat, randomBytes, type Bytes } from '../src/crypto/bytes.ts';
import { BLOCK_SIZE, BlockSealer, blockID } from '../src/crypto/content.ts';
import { CofferCryptoError, DecryptError } from '../src/crypto/errors.ts';
import { BlockOpener, RevisionReader, RevisionWriter } from '../src/crypto/file.ts';
import { KIND_FILE, type NodeRecord } from '../src/crypto/record.ts';
import { revisionDigest, type RevisionRecord } from '../src/crypto/revision.ts';
import { newID, newNodeKey, NodeKeys } from '../src/crypto/tree.ts';
import { BlockPool, MAX_BLOCK_ANSWER, runJob, failureOf, type BlockJob, type JobFailure } from '../src/app/blocks.ts';

interface Revision {
  keys: NodeKeys;
  file: NodeRecord;
  rev: RevisionRecord;
  blocks: Bytes[];
  content: Uint8Array;
}

/** A file of `size` random bytes written with RevisionWriter, and the record naming it as its head. */
async function makeRevision(size: number): Promise<Revision> {
  const keys = await NodeKeys.derive(newNodeKey());
  const volume = newID();
  const node = newID();
  const content = randomBytes(size);
  const w = await RevisionWriter.create({ fileKeys: keys, volume, node, seq: 1, author: 'alice', size, modTime: 1n });
  const blocks: Bytes[] = [];
  for (let i = 0; i < w.blockCount; i++) blocks.push((await w.sealBlock(i, content.subarray(i * BLOCK_SIZE, Math.min(size, (i + 1) * BLOCK_SIZE)))).block);
  const rev = await w.finish();
  const file: NodeRecord = {
    volume, node, parent: newID(), kind: KIND_FILE, nameHash: new Uint8Array(32), sealedName: new Uint8Array(0),
    sealedKey: new Uint8Array(0), author: 'alice', version: 1, revision: rev.revision, revisionSeq: 1, revisionDigest: revisionDigest(rev),
  };
  return { keys, file, rev, blocks, content };
}

describe('blocks opened apart from the reader', () => {
  let r: Revision;
  before(async () => {
    r = await makeRevision(2 * BLOCK_SIZE + 1000);
  });

  it('opens blocks in any order from cloned params; the reader hashes them in order', async () => {
    const reader = await RevisionReader.open(r.keys, r.file, r.rev);
    // What a worker gets: a structured clone (the CryptoKey included).
    const opener = BlockOpener.fromParams(structuredClone(reader.opener.params));
    const pts = await Promise.all([2, 0, 1].map((i) => opener.open(i, reader.blockID(i), r.blocks[i]!)));
    const [p2, p0, p1] = pts as [Bytes, Bytes, Bytes];
    assert.equal(p2.length, 1000);
    assert.throws(() => reader.addBlock(1, [p1]), CofferCryptoError, 'out of order');
    reader.addBlock(0, [p0.subarray(0, 10), p0.subarray(10)]);
    assert.throws(() => reader.addBlock(1, [p1.subarray(1)]), CofferCryptoError, 'short plaintext');
    reader.addBlock(1, [p1]);
    assert.throws(() => reader.finish(), CofferCryptoError, 'finished early');
    reader.addBlock(2, [p2]);
    reader.finish();
    assert.deepEqual(concat(p0, p1, p2), r.content);
  });

  it('checks the ID before opening, and the index and last flag from the manifest', async () => {
    const reader = await RevisionReader.open(r.keys, r.file, r.rev);
    const opener = reader.opener;
    await rejectsWith(opener.open(0, reader.blockID(0), r.blocks[1]!), DecryptError, 'another block under an ID');
    await rejectsWith(opener.open(1, reader.blockID(0), r.blocks[0]!), DecryptError, 'a block at another index');
    const tampered = Uint8Array.from(r.blocks[0]!);
    tampered[100]! ^= 1;
    await rejectsWith(opener.open(0, reader.blockID(0), tampered), DecryptError, 'a changed byte');
    await rejectsWith(opener.open(3, reader.blockID(0), r.blocks[0]!), CofferCryptoError, 'out of range');
  });

  it('the whole-file hash catches a reader fed other plaintext', async () => {
    const reader = await RevisionReader.open(r.keys, r.file, r.rev);
    for (let i = 0; i < 3; i++) {
      const pt = await reader.opener.open(i, reader.blockID(i), r.blocks[i]!);
      if (i === 1) pt[0]! ^= 1;
      reader.addBlock(i, [pt]);
    }
    assert.throws(() => reader.finish(), DecryptError);
  });

  it('refuses a last block whose padding is not zeros', async () => {
    const small = await makeRevision(37); // padded to padme(37) = 40
    const reader = await RevisionReader.open(small.keys, small.file, small.rev);
    const sealer = BlockSealer.fromParams(reader.opener.params.sealer);
    const pt = new Uint8Array(40);
    pt.set(small.content);
    pt[38] = 1;
    const block = await sealer.seal(pt, 0, true);
    await rejectsWith(reader.opener.open(0, await blockID(block), block), DecryptError, 'data in the padding');
    assert.deepEqual(await reader.opener.open(0, reader.blockID(0), small.blocks[0]!), small.content);
  });

  it('refuses malformed params', async () => {
    const reader = await RevisionReader.open(r.keys, r.file, r.rev);
    const p = reader.opener.params;
    assert.throws(() => BlockOpener.fromParams({ ...p, blockCount: 2 }), CofferCryptoError);
    assert.throws(() => BlockOpener.fromParams({ ...p, size: 5n }), CofferCryptoError);
    assert.throws(() => BlockSealer.fromParams({ ...p.sealer, blockSize: 0 }), CofferCryptoError);
    const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    assert.throws(() => BlockSealer.fromParams({ ...p.sealer, key: hmac }), CofferCryptoError);
  });
});

describe('block jobs', () => {
  let r: Revision;
  let reader: RevisionReader;
  const realFetch = globalThis.fetch;
  /** What the stub server answers for a block URL. */
  let answer: (i: number) => Response;
  const seen: { auth: string | null }[] = [];
  before(async () => {
    r = await makeRevision(BLOCK_SIZE + 77);
    reader = await RevisionReader.open(r.keys, r.file, r.rev);
    answer = (i) => new Response(r.blocks[i]!, { headers: { 'Content-Length': String(r.blocks[i]!.length) } });
    globalThis.fetch = (async (url: string | URL | Request, init?: RequestInit) => {
      seen.push({ auth: new Headers(init?.headers).get('Authorization') });
      return answer(Number(String(url).split('/').pop()));
    }) as typeof fetch;
  });
  after(() => {
    globalThis.fetch = realFetch;
  });
  const job = (i: number): BlockJob => ({ url: `https://coffer.example/blocks/${i}`, token: 'T0K', opener: reader.opener.params, index: i, id: reader.blockID(i) });
  const failure = async (p: Promise<unknown>): Promise<JobFailure> => {
    try {
      await p;
    } catch (err) {
      return failureOf(err);
    }
    assert.fail('the job succeeded');
  };

  it('fetches with the session, checks and opens; answer buffers are reused', async () => {
    const a = await runJob(job(0));
    const b = await runJob(job(1));
    assert.deepEqual(concat(a, b), r.content);
    assert.equal(seen.at(-1)?.auth, 'Bearer T0K');
    // Twice more, through the reused buffer.
    assert.deepEqual(await runJob(job(0)), a);
    assert.deepEqual(await runJob(job(1)), b);
  });

  it('reports failures as data', async () => {
    const keep = answer;
    try {
      answer = (i) => new Response(r.blocks[1 - i]!);
      assert.equal((await failure(runJob(job(0)))).kind, 'decrypt');
      answer = () => new Response(JSON.stringify({ error: { code: 'link_revoked' } }), { status: 410, headers: { 'Retry-After': '5' } });
      const f = await failure(runJob(job(0)));
      assert.ok(f.kind === 'http' && f.status === 410 && f.body.includes('link_revoked') && f.retryAfter === '5');
      answer = () => new Response(new Uint8Array(MAX_BLOCK_ANSWER + 10));
      assert.equal((await failure(runJob(job(0)))).kind, 'too-large');
      answer = () => new Response('', { headers: { 'Content-Length': String(MAX_BLOCK_ANSWER + 1) } });
      assert.equal((await failure(runJob(job(0)))).kind, 'too-large');
    } finally {
      answer = keep;
    }
  });

  it('the pool runs jobs on the page where there are no workers, and words failures with toError', async () => {
    const pool = new BlockPool(2, (f) => new Error(`failed: ${f.kind}`));
    assert.deepEqual(await pool.run(job(1)), await runJob(job(1)));
    const keep = answer;
    try {
      answer = (i) => new Response(r.blocks[1 - i]!);
      await assert.rejects(pool.run(job(0)), /failed: decrypt/);
    } finally {
      answer = keep;
    }
    const ctl = new AbortController();
    ctl.abort(new Error('stop'));
    await assert.rejects(pool.run(job(0), ctl.signal), /stop/);
  });
});
