/**
 * Fetching, checking and opening a file's blocks, on worker threads.
 *
 * Why: in Chromium, WebCrypto runs on the thread that calls it, so the
 * SHA-256 of each 4 MiB block (its ID) and its AES-GCM open took about
 * 20 ms of the page's main thread per block, on top of the whole-file
 * SHA-256 (hash-wasm, about 14 ms a block, which has to stay on one
 * thread since it must see every block in order). One after the other,
 * they kept downloads at 50-70 MB/s on a 2-core machine
 * (docs/benchmarks.md, "Browser download"). Here each block is one job
 * (fetch, ID check, open), run by a small pool of dedicated workers,
 * several blocks at once; the page keeps only the in-order part
 * (RevisionReader.addBlock, finish).
 *
 * Nothing is weakened: a worker runs the crypto library's
 * BlockOpener.open, which checks the block against the manifest ID the
 * page gives it before opening it, and hands back only what opened. The
 * page still hashes every plaintext in order and releases the last block
 * only after the whole-file SHA-256 matched (linkclient.ts). The content
 * key goes to the workers as a non-extractable CryptoKey.
 *
 * Memory: a worker reads each answer straight into a buffer of its own
 * (a BYOB reader), reused from block to block, rather than into a fresh
 * ArrayBuffer per block: on the virtual machines this was measured on,
 * the page faults of 4 MiB of fresh memory cost several times the copy
 * into it (about 2.4 ms against 0.3 ms). The page bounds how many jobs
 * run at once.
 *
 * Where workers are not available (or fail to start) the same jobs run on
 * the page itself: slower, but the same checks.
 */
import { BlockOpener, type BlockOpenerParams } from '../crypto/file.ts';
import { CofferCryptoError, DecryptError } from '../crypto/errors.ts';
import type { Bytes } from '../crypto/bytes.ts';

/** A sealed block is at most 4 MiB + 29 bytes: longer answers are refused, and never read past this. */
export const MAX_BLOCK_ANSWER = 4 * 1024 * 1024 + 64 * 1024;

/** One block to fetch, check and open. */
export interface BlockJob {
  /** The block's absolute URL. */
  url: string;
  /** The link session (Authorization: Bearer). */
  token: string;
  /** The revision's opener (BlockOpener.params): keys and AD prefixes (its own and its origins', crypto.md §12.6), block count, size. */
  opener: BlockOpenerParams;
  index: number;
  /** The block's ID from the signed manifest. */
  id: Bytes;
}

/**
 * Why a job failed, as plain data: errors lose their class through
 * postMessage, so the page turns this back into an error (BlockPool's
 * toError).
 */
export type JobFailure =
  | { kind: 'http'; status: number; body: string; retryAfter: string | null }
  | { kind: 'network'; message: string }
  | { kind: 'too-large'; length: number }
  | { kind: 'decrypt'; message: string }
  | { kind: 'crypto'; message: string }
  | { kind: 'other'; message: string }
  | { kind: 'aborted' };

class JobError extends Error {
  constructor(readonly failure: JobFailure) {
    super(failure.kind);
  }
}

/**
 * Answer buffers of this thread, reused from job to job (see the file
 * comment): as many as jobs ran here at once, and dropped once this
 * thread has had no job for a few seconds, so that an idle page holds none.
 */
const spare: ArrayBuffer[] = [];
const MAX_SPARE = 2;
const SPARE_MS = 3000;
let dropSpare: ReturnType<typeof setTimeout> | undefined;

function keepSpare(buf: ArrayBuffer): void {
  if (spare.length < MAX_SPARE) spare.push(buf);
  clearTimeout(dropSpare);
  dropSpare = setTimeout(() => (spare.length = 0), SPARE_MS);
}

/**
 * Reads a block's answer. With a BYOB reader (Chromium, Firefox) the bytes
 * go straight into a reused buffer; release() gives it back once the
 * block has been opened (WebCrypto copied it by then). Refuses answers of
 * more than MAX_BLOCK_ANSWER bytes without reading them whole.
 */
async function readAnswer(res: Response): Promise<{ bytes: Uint8Array; release: () => void }> {
  const declared = Number(res.headers.get('Content-Length') ?? '0');
  if (declared > MAX_BLOCK_ANSWER) throw new JobError({ kind: 'too-large', length: declared });
  let reader: ReadableStreamBYOBReader | undefined;
  try {
    reader = res.body?.getReader({ mode: 'byob' });
  } catch {
    // Not a byte stream here: read it the ordinary way below.
  }
  if (!reader) {
    const b = new Uint8Array(await res.arrayBuffer());
    if (b.length > MAX_BLOCK_ANSWER) throw new JobError({ kind: 'too-large', length: b.length });
    return { bytes: b, release: () => {} };
  }
  // One byte more than allowed: filling it means the answer is too long.
  let buf = spare.pop() ?? new ArrayBuffer(MAX_BLOCK_ANSWER + 1);
  let off = 0;
  for (;;) {
    if (off === buf.byteLength) {
      await reader.cancel().catch(() => {});
      throw new JobError({ kind: 'too-large', length: off });
    }
    const { done, value } = await reader.read(new Uint8Array(buf, off));
    // A BYOB read hands the buffer back (transferred) in value.
    if (value) {
      buf = value.buffer as ArrayBuffer;
      off += value.byteLength;
    }
    if (done) break;
  }
  const keep = buf;
  return { bytes: new Uint8Array(keep, 0, off), release: () => keepSpare(keep) };
}

/**
 * Runs one job on this thread: fetch the block, check its ID, open it.
 * Resolves to its plaintext (the last block trimmed); rejects with a
 * JobError.
 */
export async function runJob(job: BlockJob, signal?: AbortSignal): Promise<Bytes> {
  try {
    let res: Response;
    try {
      res = await fetch(job.url, {
        headers: { Accept: 'application/octet-stream', Authorization: `Bearer ${job.token}` },
        signal,
        credentials: 'omit',
        cache: 'no-store',
        redirect: 'error',
        referrerPolicy: 'no-referrer',
      });
    } catch (err) {
      if (signal?.aborted) throw new JobError({ kind: 'aborted' });
      throw new JobError({ kind: 'network', message: err instanceof Error ? err.message : String(err) });
    }
    if (!res.ok) {
      let body = '';
      try {
        body = (await res.text()).slice(0, 4096);
      } catch {
        // no body
      }
      throw new JobError({ kind: 'http', status: res.status, body, retryAfter: res.headers.get('Retry-After') });
    }
    const { bytes, release } = await readAnswer(res);
    try {
      return await BlockOpener.fromParams(job.opener).open(job.index, job.id, bytes);
    } finally {
      release();
    }
  } catch (err) {
    if (err instanceof JobError) throw err;
    if (signal?.aborted) throw new JobError({ kind: 'aborted' });
    if (err instanceof DecryptError) throw new JobError({ kind: 'decrypt', message: err.message });
    if (err instanceof CofferCryptoError) throw new JobError({ kind: 'crypto', message: err.message });
    throw new JobError({ kind: 'other', message: err instanceof Error ? err.message : String(err) });
  }
}

/** The failure a job ended with, as plain data. */
export function failureOf(err: unknown): JobFailure {
  return err instanceof JobError ? err.failure : { kind: 'other', message: err instanceof Error ? err.message : String(err) };
}

// The messages between the page and a worker (blockworker.ts).
/** Page to worker. */
export type ToWorker = { type: 'job'; n: number; job: BlockJob } | { type: 'abort'; n: number };
/** Worker to page: a job's plaintext (its buffer transferred), or why it failed. */
export type FromWorker = { n: number; ok: true; plain: Bytes } | { n: number; ok: false; failure: JobFailure };

interface Pending {
  job: BlockJob;
  resolve: (pt: Bytes) => void;
  reject: (err: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

/**
 * A few dedicated workers running block jobs; a job goes to the worker
 * with the fewest. Workers start on first use and stay for the page's
 * life (an idle one holds no block).
 */
export class BlockPool {
  private readonly slots: Slot[] = [];
  private seq = 0;
  /** Set once workers cannot be used: every job then runs on the page. */
  private inPage = typeof Worker === 'undefined';

  /**
   * size: the number of workers. toError turns a failure into the error
   * the caller's stream reports (JobFailure 'aborted' never reaches it:
   * an aborted job rejects with its signal's reason).
   */
  constructor(
    private readonly size: number,
    private readonly toError: (f: JobFailure) => unknown,
  ) {}

  /** Fetches, checks and opens one block; rejects with toError's error, or signal's reason once aborted. */
  run(job: BlockJob, signal?: AbortSignal): Promise<Bytes> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const slot = this.inPage ? undefined : this.slot();
    if (!slot) return this.runInPage(job, signal);
    return new Promise<Bytes>((resolve, reject) => {
      const n = ++this.seq;
      const p: Pending = { job, resolve, reject };
      if (signal) {
        p.signal = signal;
        p.onAbort = () => {
          slot.pending.delete(n);
          slot.worker.postMessage({ type: 'abort', n } satisfies ToWorker);
          reject(signal.reason);
        };
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
      slot.pending.set(n, p);
      slot.worker.postMessage({ type: 'job', n, job } satisfies ToWorker);
    });
  }

  private async runInPage(job: BlockJob, signal?: AbortSignal): Promise<Bytes> {
    try {
      return await runJob(job, signal);
    } catch (err) {
      const f = failureOf(err);
      throw f.kind === 'aborted' ? signal?.reason : this.toError(f);
    }
  }

  /** The worker with the fewest jobs, starting one while there are fewer than size. */
  private slot(): Slot | undefined {
    let best: Slot | undefined;
    for (const s of this.slots) if (!best || s.pending.size < best.pending.size) best = s;
    if (best && (best.pending.size === 0 || this.slots.length >= this.size)) return best;
    try {
      const worker = new Worker(new URL('./blockworker.ts', import.meta.url), { type: 'module', name: 'coffer-blocks' });
      const s: Slot = { worker, pending: new Map() };
      worker.onmessage = (e: MessageEvent<FromWorker>) => this.settle(s, e.data);
      // A worker that fails (its script did not load, or a message could
      // not be read) is dropped, and its jobs run again on the page.
      worker.onerror = (e) => {
        e.preventDefault();
        this.fail(s);
      };
      worker.onmessageerror = () => this.fail(s);
      this.slots.push(s);
      return s;
    } catch {
      this.inPage = true;
      return best;
    }
  }

  private settle(s: Slot, m: FromWorker): void {
    const p = s.pending.get(m.n);
    if (!p) return; // aborted meanwhile
    s.pending.delete(m.n);
    if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
    if (m.ok) p.resolve(m.plain);
    else p.reject(m.failure.kind === 'aborted' ? p.signal?.reason : this.toError(m.failure));
  }

  private fail(s: Slot): void {
    const i = this.slots.indexOf(s);
    if (i < 0) return;
    this.slots.splice(i, 1);
    s.worker.terminate();
    this.inPage = true;
    for (const p of s.pending.values()) {
      if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
      this.runInPage(p.job, p.signal).then(p.resolve, p.reject);
    }
    s.pending.clear();
  }
}
