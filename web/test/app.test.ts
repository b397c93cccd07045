// Unit tests of the link page's helpers (web/src/app, web/src/swlib.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asLinkError, errorText } from '../src/app/errors.ts';
import { displayName, humanSize } from '../src/app/format.ts';
import { safeFileName } from '../src/app/save.ts';
import { countBytes, walkTree } from '../src/app/transfer.ts';
import { LinkError, type Entry, type FolderEntry, type FolderLink, type LinkErrorCode } from '../src/app/types.ts';
import { contentDisposition } from '../src/swlib.ts';
import { downloadZip, predictLength } from 'client-zip';

test('humanSize', () => {
  assert.equal(humanSize(0), '0 bytes');
  assert.equal(humanSize(1), '1 byte');
  assert.equal(humanSize(1023), '1023 bytes');
  assert.equal(humanSize(1024), '1.0 KB');
  assert.equal(humanSize(5 << 20), '5.0 MB');
  assert.equal(humanSize(27_000_000), '26 MB');
  assert.equal(humanSize(2 ** 30), '1.0 GB');
});

test('displayName hides controls and bidi overrides', () => {
  assert.equal(displayName('report\u202Efdp.exe'), 'report\uFFFDfdp.exe');
  assert.equal(displayName('a\nb'), 'a\uFFFDb');
  assert.equal(displayName(''), '(no name)');
  assert.equal(displayName('Été 2026.jpg'), 'Été 2026.jpg');
});

test('safeFileName', () => {
  assert.equal(safeFileName('a/b\\c'), 'a_b_c');
  assert.equal(safeFileName('..'), 'download');
  assert.equal(safeFileName('.'), 'download');
  assert.equal(safeFileName('\u202E'), 'download');
  assert.equal(safeFileName('ok.txt'), 'ok.txt');
  assert.equal(safeFileName('x'.repeat(300)).length, 200);
});

test('contentDisposition', () => {
  assert.equal(contentDisposition('a b.txt'), `attachment; filename="a b.txt"; filename*=UTF-8''a%20b.txt`);
  assert.equal(contentDisposition(`Été "1" (x)'*!.pdf`), `attachment; filename="_t_ _1_ (x)'*!.pdf"; filename*=UTF-8''%C3%89t%C3%A9%20%221%22%20%28x%29%27%2A%21.pdf`);
  assert.doesNotMatch(contentDisposition('a\r\nSet-Cookie: x'), /[\r\n]/);
});

test('every error code has words', () => {
  const codes: LinkErrorCode[] = ['bad-url', 'not-found', 'expired', 'revoked', 'limit-reached', 'wrong-password', 'rate-limited', 'tampered', 'upload-refused', 'unsupported', 'network', 'interrupted', 'server'];
  for (const c of codes) {
    const t = errorText(new LinkError(c));
    assert.ok(t.title.length > 5 && t.detail.length > 5, c);
  }
  assert.match(errorText(new LinkError('rate-limited', undefined, { retryAfter: 90 })).detail, /2 minutes/);
  assert.equal(asLinkError(new Error('x')).code, 'server');
  assert.equal(asLinkError(new Error('x'), 'interrupted').code, 'interrupted');
  const le = new LinkError('tampered');
  assert.equal(asLinkError(le), le);
  assert.equal(asLinkError(new Error('wrapped', { cause: le })), le);
});

function fakeFolderLink(tree: Map<string, Entry[]>, root: FolderEntry, byte: (id: string) => number): FolderLink {
  return {
    kind: 'folder',
    root,
    list: async (f) => ({ entries: tree.get(f.id) ?? [], leftOut: 0 }),
    read: (f) => new Blob([new Uint8Array(f.size).fill(byte(f.id))]).stream(),
  };
}

test('walkTree gives unique safe paths and finds empty folders', async () => {
  const root: FolderEntry = { type: 'folder', id: 'r', name: 'root' };
  const sub: FolderEntry = { type: 'folder', id: 's', name: 'sub' };
  const empty: FolderEntry = { type: 'folder', id: 'e', name: 'empty' };
  const tree = new Map<string, Entry[]>([
    ['r', [{ type: 'file', id: 'f1', name: 'a/b.txt', size: 3 }, { type: 'file', id: 'f2', name: 'a_b.txt', size: 4 }, sub, empty, { type: 'file', id: 'f5', name: '..', size: 1 }]],
    ['s', [{ type: 'file', id: 'f3', name: 'x', size: 5 }, { type: 'file', id: 'f4', name: 'X', size: 0 }]],
  ]);
  const link = fakeFolderLink(tree, root, () => 1);
  const t = await walkTree(link, root, new AbortController().signal);
  assert.deepEqual(
    t.files.map((f) => f.path),
    ['a_b.txt', 'a_b (2).txt', 'sub/x', 'sub/X (2)', 'download'],
  );
  assert.deepEqual(t.emptyFolders, ['empty/']);
  assert.equal(t.totalSize, 13);
});

test('walkTree refuses a folder served inside itself', async () => {
  const root: FolderEntry = { type: 'folder', id: 'r', name: 'root' };
  const sub: FolderEntry = { type: 'folder', id: 's', name: 'sub' };
  const tree = new Map<string, Entry[]>([
    ['r', [sub]],
    ['s', [{ ...root, name: 'again' }]],
  ]);
  await assert.rejects(walkTree(fakeFolderLink(tree, root, () => 1), root, new AbortController().signal), (e: unknown) => e instanceof LinkError && e.code === 'tampered');
});

test('the zip length is predicted exactly (the download gets a Content-Length)', async () => {
  const root: FolderEntry = { type: 'folder', id: 'r', name: 'root' };
  const sub: FolderEntry = { type: 'folder', id: 's', name: 'sub' };
  const tree = new Map<string, Entry[]>([
    ['r', [{ type: 'file', id: 'a', name: 'a.bin', size: 100_000 }, sub, { type: 'folder', id: 'e', name: 'empty' }]],
    ['s', [{ type: 'file', id: 'b', name: 'Été.txt', size: 0 }, { type: 'file', id: 'c', name: 'c', size: 70_000 }]],
  ]);
  const link = fakeFolderLink(tree, root, (id) => id.charCodeAt(0));
  const t = await walkTree(link, root, new AbortController().signal);
  const meta = [...t.files.map((it) => ({ name: it.path, size: it.file.size })), ...t.emptyFolders.map((name) => ({ name }))];
  const predicted = Number(predictLength(meta));
  const entries = [
    ...t.files.map((it) => ({ name: it.path, size: it.file.size, lastModified: new Date(0), input: link.read(it.file) })),
    ...t.emptyFolders.map((name) => ({ name, lastModified: new Date(0) })),
  ];
  const zip = new Uint8Array(await downloadZip(entries, { length: predicted }).arrayBuffer());
  assert.equal(zip.length, predicted);
});

test('countBytes reports the total at the end', async () => {
  const seen: number[] = [];
  const s = countBytes(new Blob([new Uint8Array(1000), new Uint8Array(24)]).stream(), 1024, (d) => seen.push(d));
  const out = new Uint8Array(await new Response(s).arrayBuffer());
  assert.equal(out.length, 1024);
  assert.equal(seen.at(-1), 1024);
});
