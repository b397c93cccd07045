/** Downloads (one file, or a whole folder as a zip built in the page). */
import { downloadZip, predictLength } from 'client-zip';
import { saveStream, safeFileName } from './save.ts';
import { LinkError, type FileEntry, type FileLink, type FolderEntry, type FolderLink } from './types.ts';

/** Progress of a transfer: bytes done, and the total when known. */
export type ProgressFn = (done: number, total: number | undefined) => void;

/**
 * Passes stream through, calling onBytes with the running byte count (at
 * most every 100 ms, and once at the end).
 */
export function countBytes(stream: ReadableStream<Uint8Array>, total: number | undefined, onProgress: ProgressFn): ReadableStream<Uint8Array> {
  let done = 0;
  let last = 0;
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        done += chunk.byteLength;
        const now = performance.now();
        if (now - last >= 100) {
          last = now;
          onProgress(done, total);
        }
        controller.enqueue(chunk);
      },
      flush() {
        onProgress(done, total);
      },
    }),
  );
}

/** Downloads one file of a link to disk. */
export async function downloadFile(link: FileLink | FolderLink, file: FileEntry, onProgress: ProgressFn, signal: AbortSignal): Promise<void> {
  onProgress(0, file.size);
  const stream = countBytes(link.read(file, { signal }), file.size, onProgress);
  await saveStream(file.name, file.size, stream);
}

/** A file of a folder link, with its path in the zip. */
export interface ZipItem {
  path: string;
  file: FileEntry;
}

/** Everything below a folder: its files with their zip paths, and its empty folders. */
export interface Tree {
  files: ZipItem[];
  emptyFolders: string[];
  totalSize: number;
}

/**
 * Lists every folder below root (each folder's listing verified by the
 * data layer) and gives each file a unique, safe path relative to root.
 */
export async function walkTree(link: FolderLink, root: FolderEntry, signal: AbortSignal, onFound?: (files: number) => void): Promise<Tree> {
  const tree: Tree = { files: [], emptyFolders: [], totalSize: 0 };
  const used = new Set<string>();
  const unique = (path: string): string => {
    let p = path;
    for (let i = 2; used.has(p.toLowerCase()); i++) {
      const dot = path.lastIndexOf('.');
      const slash = path.lastIndexOf('/');
      p = dot > slash + 1 ? `${path.slice(0, dot)} (${i})${path.slice(dot)}` : `${path} (${i})`;
    }
    used.add(p.toLowerCase());
    return p;
  };
  // The records come with nothing to compare them with (a link keeps no
  // state), so a server could serve a folder inside itself: refuse a
  // folder seen twice rather than walk without end.
  const seen = new Set<string>();
  const walk = async (folder: FolderEntry, prefix: string): Promise<void> => {
    signal.throwIfAborted();
    if (seen.has(folder.id)) throw new LinkError('tampered', `the folder “${folder.name}” appears inside itself`);
    seen.add(folder.id);
    const { entries: children } = await link.list(folder);
    if (children.length === 0 && prefix !== '') tree.emptyFolders.push(prefix);
    for (const c of children) {
      const path = unique(prefix + safeFileName(c.name));
      if (c.type === 'file') {
        tree.files.push({ path, file: c });
        tree.totalSize += c.size;
        onFound?.(tree.files.length);
      } else {
        await walk(c, path + '/');
      }
    }
  };
  await walk(root, '');
  return tree;
}

/**
 * Downloads every file of tree as one zip, built in the page with
 * client-zip: each file's stream is opened only when the zip reaches it,
 * so memory stays at a few blocks whatever the size of the folder.
 */
export async function downloadZipOf(link: FolderLink, zipName: string, tree: Tree, onProgress: ProgressFn, signal: AbortSignal): Promise<void> {
  const now = new Date();
  const meta = [
    ...tree.files.map((it) => ({ name: it.path, size: it.file.size })),
    ...tree.emptyFolders.map((name) => ({ name })),
  ];
  const length = Number(predictLength(meta));
  async function* entries() {
    for (const it of tree.files) {
      signal.throwIfAborted();
      yield { name: it.path, size: it.file.size, lastModified: it.file.mtime ?? now, input: link.read(it.file, { signal }) };
    }
    for (const name of tree.emptyFolders) yield { name, lastModified: now };
  }
  const body = downloadZip(entries(), { length }).body;
  if (!body) throw new Error('the zip could not be built');
  onProgress(0, length);
  await saveStream(zipName, length, countBytes(body, length, onProgress));
}
