/**
 * A fake data layer for working on the UI without a server: built only by
 * `vite --mode demo` (main.tsx imports it behind import.meta.env.MODE, so
 * real builds leave it out).
 *
 * ?demo=file|folder|upload picks the link kind; &password=1 asks for the
 * password "pw"; &fail=expired|revoked|limit-reached|not-found|tampered
 * fails the probe (or, for tampered, the download after its first block);
 * &size=N sets the size of the single file (default 5 MiB).
 *
 * File contents are deterministic: byte i of a file is (i * 7 + (i >> 22)) & 255.
 */
import { LinkError, type Entry, type FileEntry, type FolderEntry, type LinkBackend, type LinkErrorCode, type OpenLink } from './types.ts';

const BLOCK = 4 << 20;

export function contentByte(i: number): number {
  return (i * 7 + Math.floor(i / BLOCK)) & 255;
}

function blockBytes(index: number, length: number): Uint8Array {
  const b = new Uint8Array(length);
  const base = index * BLOCK;
  for (let j = 0; j < length; j++) b[j] = ((base + j) * 7 + index) & 255;
  return b;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function read(file: FileEntry, tamper: boolean, signal?: AbortSignal): ReadableStream<Uint8Array> {
  let index = 0;
  const blocks = Math.ceil(file.size / BLOCK);
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (signal?.aborted) return controller.error(signal.reason);
        if (index >= blocks) return controller.close();
        if (tamper && index === 1) return controller.error(new LinkError('tampered', 'block 1 does not open'));
        const len = Math.min(BLOCK, file.size - index * BLOCK);
        controller.enqueue(blockBytes(index, len));
        index++;
      },
    },
    { highWaterMark: 0 },
  );
}

let ids = 0;
const file = (name: string, size: number): FileEntry => ({ type: 'file', id: `f${++ids}`, name, size, mtime: new Date(2026, 0, 15, 10, 30) });
const folder = (name: string): FolderEntry => ({ type: 'folder', id: `d${++ids}`, name });

export function createStubBackend(loc: Location): LinkBackend {
  const q = new URLSearchParams(loc.search);
  const kind = q.get('demo') ?? 'file';
  const fail = q.get('fail') as LinkErrorCode | null;
  const password = q.get('password') === '1';
  const size = Number(q.get('size') ?? 5 << 20);
  const tamper = fail === 'tampered';

  const root = folder('Holiday photos 2026');
  const raw = folder('Raw');
  const empty = folder('Empty');
  const tree = new Map<string, Entry[]>([
    [root.id, [file('beach.jpg', 3_481_221), file('notes.txt', 1_234), raw, file('sunset.jpg', 2_050_112), empty]],
    [raw.id, [file('IMG_0001.CR3', 27_000_000), file('IMG_0002.CR3', 26_500_000)]],
    [empty.id, []],
  ]);

  return {
    async probe() {
      await sleep(300);
      if (fail && fail !== 'tampered' && fail !== 'wrong-password') throw new LinkError(fail);
      return { passwordRequired: password };
    },
    async unlock(pw: string): Promise<OpenLink> {
      await sleep(800);
      if (password && pw !== 'pw') throw new LinkError('wrong-password');
      if (kind === 'upload') {
        return {
          kind: 'upload',
          limits: { maxFiles: 10, maxBytes: 100 << 20 },
          async upload(f, onProgress, signal) {
            for (let done = 0; done < f.size; done += 1 << 20) {
              signal?.throwIfAborted();
              await sleep(50);
              onProgress(Math.min(f.size, done + (1 << 20)));
            }
            onProgress(f.size);
          },
        };
      }
      if (kind === 'folder') {
        return {
          kind: 'folder',
          root,
          async list(f) {
            await sleep(150);
            return { entries: tree.get(f.id) ?? [], leftOut: f.id === raw.id && tamper ? 1 : 0 };
          },
          read: (f, o) => read(f, tamper, o?.signal),
        };
      }
      return { kind: 'file', file: file(q.get('name') ?? 'Quarterly report (final).pdf', size), read: (f, o) => read(f, tamper, o?.signal) };
    },
  };
}
