/**
 * Saving a decrypted stream to disk without holding it in memory.
 *
 * The page registers the download with the service worker (sw.ts, served
 * at /s/sw.js with scope /s/) through postMessage, then points a hidden
 * iframe at /s/_dl/<token>. The service worker answers that navigation
 * with a stream as an attachment, so the browser's own download manager
 * writes it to disk as it arrives: the page never holds more than the few
 * chunks in flight, whatever the size.
 *
 * The page feeds that stream over a MessageChannel (protocol version 2):
 * the worker asks for a chunk whenever its small queue has room, and the
 * page answers with the next chunk of its stream. A chunk whose buffer the
 * producer handed over (handOver) is transferred, not copied. This
 * replaced transferring the ReadableStream itself (version 1, kept for a
 * page and a worker of different versions), which copies every chunk
 * twice (serialized, then deserialized into fresh memory) and moves one
 * chunk at a time in lock step: on a 2-core machine that hop cost about a
 * fifth of a download's CPU time. Version 2 also works where streams cannot
 * be transferred.
 *
 * The token is 128 random bits, used once, and forgotten by the worker
 * after a minute if nothing asked for it. The URL carries nothing else (no
 * file name), so if the worker were not there the server would learn
 * nothing from the request.
 */

/**
 * Message from the page to the service worker (see sw.ts). Version 1
 * carries the stream; version 2 feeds it over port (DownloadFeed).
 */
export type DownloadMessage = {
  type: 'coffer-download';
  token: string;
  name: string;
  size: number | null;
  port: MessagePort;
} & ({ v: 1; stream: ReadableStream<Uint8Array> } | { v: 2 });

/**
 * Messages from the service worker on the message's port: 'ready' once
 * registered, 'started' once the browser asked for the download; in
 * version 2, 'pull' for each chunk it wants and 'cancel' if the download
 * was cancelled in the browser.
 */
export type DownloadReply =
  | { type: 'ready' }
  | { type: 'started' }
  | { type: 'expired' }
  | { type: 'refused'; reason: string }
  | { type: 'pull' }
  | { type: 'cancel' };

/** Version 2: what the page sends on the port, one message per 'pull'. */
export type DownloadFeed = { type: 'chunk'; chunk: Uint8Array } | { type: 'end' } | { type: 'error'; message: string };

/** Buffers whose producer gave them up (see handOver). */
const handedOver = new WeakSet<ArrayBufferLike>();

/**
 * Marks chunk's buffer as handed over by its producer: nothing else holds
 * it or will read it once the chunk is enqueued, so saveStream may
 * transfer it to the service worker (which detaches it here) instead of
 * copying it. Returns chunk.
 */
export function handOver<T extends Uint8Array>(chunk: T): T {
  handedOver.add(chunk.buffer);
  return chunk;
}

export const SW_URL = '/s/sw.js';
export const SW_SCOPE = '/s/';
export const DOWNLOAD_PREFIX = '/s/_dl/';

let registration: Promise<ServiceWorkerRegistration | undefined> | undefined;

/**
 * Registers the download service worker (once; later calls return the same
 * promise). Resolves to undefined where service workers are not available:
 * outside a secure context (plain http on a host other than localhost), in
 * some private modes, or when registration fails.
 */
export function registerServiceWorker(): Promise<ServiceWorkerRegistration | undefined> {
  registration ??= (async () => {
    if (!window.isSecureContext || !('serviceWorker' in navigator)) return undefined;
    try {
      await navigator.serviceWorker.register(SW_URL, { scope: SW_SCOPE });
      // ready resolves once a worker whose scope covers this page is active.
      return await withTimeout(navigator.serviceWorker.ready, 10_000);
    } catch {
      return undefined;
    }
  })();
  return registration;
}

let transferable: boolean | undefined;

/** Whether this browser can transfer a ReadableStream through postMessage. */
function streamsTransferable(): boolean {
  if (transferable === undefined) {
    try {
      const rs = new ReadableStream();
      const mc = new MessageChannel();
      mc.port1.postMessage(rs, [rs as unknown as Transferable]);
      mc.port1.close();
      mc.port2.close();
      transferable = true;
    } catch {
      transferable = false;
    }
  }
  return transferable;
}

/** How a stream was saved: by the service worker (streamed) or as a Blob (held in memory). */
export type SaveMethod = 'service-worker' | 'blob';

/**
 * Saves stream to the user's downloads as name. size (the exact byte
 * length, when known) lets the browser show progress, and makes it mark
 * the download failed if fewer bytes arrive.
 *
 * Resolves once the whole stream has been handed to the browser; rejects
 * with the stream's error (the download is then marked failed by the
 * browser) or if the user cancels it in the browser.
 */
export async function saveStream(name: string, size: number | undefined, stream: ReadableStream<Uint8Array>): Promise<void> {
  await saveStreamWith(name, size, stream);
}

/** saveStream, telling which method was used. */
export async function saveStreamWith(name: string, size: number | undefined, stream: ReadableStream<Uint8Array>): Promise<SaveMethod> {
  const reg = await registerServiceWorker();
  const worker = reg?.active;
  if (worker) {
    const done = await saveViaServiceWorker(worker, safeFileName(name), size, stream);
    if (done) return 'service-worker';
    // An older worker, which knows only version 1.
    if (streamsTransferable()) {
      await saveViaTransferredStream(worker, safeFileName(name), size, stream);
      return 'service-worker';
    }
  }
  // Fallback, only where no service worker can be used (see
  // registerServiceWorker): the whole file is collected in memory as a
  // Blob first, so very large files may fail in this case.
  await saveViaBlob(safeFileName(name), stream);
  return 'blob';
}

/**
 * Version 2: the page feeds the worker over the port (see the file
 * comment). Resolves to false, having read nothing from source, if the
 * worker does not know version 2.
 */
async function saveViaServiceWorker(worker: ServiceWorker, name: string, size: number | undefined, source: ReadableStream<Uint8Array>): Promise<boolean> {
  const token = randomToken();
  const mc = new MessageChannel();
  const port = mc.port1;
  const reader = source.getReader();
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  // Settles once the source is read to the end and handed over, fails, or
  // the download is cancelled in the browser.
  const finished = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  finished.catch(() => {});
  let over = false;
  const stop = (err: unknown) => {
    if (over) return;
    over = true;
    reject(err);
    reader.cancel(err).catch(() => {});
    // The worker fails the download, so that no partial file looks done.
    try {
      port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies DownloadFeed);
    } catch {
      // port closed
    }
  };
  // One read at a time, in order, each answering one 'pull'.
  let feeding = Promise.resolve();
  const feed = () => {
    feeding = feeding.then(async () => {
      if (over) return;
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (err) {
        stop(err);
        return;
      }
      if (over) return;
      if (r.done) {
        over = true;
        port.postMessage({ type: 'end' } satisfies DownloadFeed);
        resolve();
        return;
      }
      const chunk = r.value;
      const transfer = handedOver.has(chunk.buffer) ? [chunk.buffer as ArrayBuffer] : [];
      port.postMessage({ type: 'chunk', chunk } satisfies DownloadFeed, transfer);
    });
  };

  const replies = new Queue<DownloadReply>();
  port.onmessage = (e: MessageEvent<DownloadReply>) => {
    if (e.data.type === 'pull') feed();
    else if (e.data.type === 'cancel') stop(new Error('the download was cancelled'));
    else replies.push(e.data);
  };
  port.start();
  const msg: DownloadMessage = { type: 'coffer-download', v: 2, token, name, size: size ?? null, port: mc.port2 };
  const keepAlive = setInterval(() => worker.postMessage({ type: 'coffer-ping' }), 10_000);
  let frame: HTMLIFrameElement | undefined;
  let registered = false;
  try {
    worker.postMessage(msg, [mc.port2]);
    const ready = await withTimeout(replies.next(), 10_000, 'the download helper did not answer');
    if (ready.type === 'refused' && ready.reason === 'version') {
      over = true;
      reader.releaseLock();
      return false;
    }
    if (ready.type !== 'ready') throw new Error(ready.type === 'refused' ? `the download helper refused: ${ready.reason}` : 'the download could not start');
    registered = true;
    frame = document.createElement('iframe');
    frame.hidden = true;
    frame.src = DOWNLOAD_PREFIX + token;
    document.body.appendChild(frame);
    const started = await withTimeout(replies.next(), 30_000, 'the browser did not start the download');
    if (started.type !== 'started') throw new Error('the download could not start');
    await finished;
    return true;
  } catch (err) {
    // Stop the source so that nothing keeps fetching, and fail the download.
    stop(err);
    throw err;
  } finally {
    clearInterval(keepAlive);
    // Once the worker holds the download, it closes the channel after the
    // end or an error (or when the download expires); closing this end
    // here could drop the last messages on their way.
    if (!registered) port.close();
    // Give the browser a moment with the response before the frame goes.
    const f = frame;
    if (f) setTimeout(() => f.remove(), 60_000);
  }
}

/** Version 1: the stream itself is transferred to the worker. */
async function saveViaTransferredStream(worker: ServiceWorker, name: string, size: number | undefined, source: ReadableStream<Uint8Array>): Promise<void> {
  const token = randomToken();
  const mc = new MessageChannel();
  // The worker consumes `stream`; `finished` settles when the source is
  // fully handed over, fails, or the download is cancelled.
  const { stream, finished, stop } = watch(source);

  const replies = new Queue<DownloadReply>();
  mc.port1.onmessage = (e: MessageEvent<DownloadReply>) => replies.push(e.data);
  mc.port1.start();
  const msg: DownloadMessage = { type: 'coffer-download', v: 1, token, name, size: size ?? null, stream, port: mc.port2 };
  const keepAlive = setInterval(() => worker.postMessage({ type: 'coffer-ping' }), 10_000);
  let frame: HTMLIFrameElement | undefined;
  try {
    worker.postMessage(msg, [stream as unknown as Transferable, mc.port2]);
    const ready = await withTimeout(replies.next(), 10_000, 'the download helper did not answer');
    if (ready.type !== 'ready') throw new Error(ready.type === 'refused' ? `the download helper refused: ${ready.reason}` : 'the download could not start');
    frame = document.createElement('iframe');
    frame.hidden = true;
    frame.src = DOWNLOAD_PREFIX + token;
    document.body.appendChild(frame);
    const started = await withTimeout(replies.next(), 30_000, 'the browser did not start the download');
    if (started.type !== 'started') throw new Error('the download could not start');
    await finished;
  } catch (err) {
    // Stop the source so that nothing keeps fetching, and fail the download.
    stop(err);
    throw err;
  } finally {
    clearInterval(keepAlive);
    mc.port1.close();
    // Give the browser a moment with the response before the frame goes.
    const f = frame;
    if (f) setTimeout(() => f.remove(), 60_000);
  }
}

/**
 * Wraps source in a stream of our own that reports when it is finished
 * (read to the end, failed, or cancelled by its reader), and can be
 * stopped. (The simpler source.pipeTo(new TransformStream()) makes
 * Chromium report an unhandled rejection when the source fails after the
 * readable side was transferred.)
 */
function watch(source: ReadableStream<Uint8Array>): { stream: ReadableStream<Uint8Array>; finished: Promise<void>; stop: (reason: unknown) => void } {
  const reader = source.getReader();
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const finished = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  finished.catch(() => {});
  let ctl: ReadableStreamDefaultController<Uint8Array> | undefined;
  let over = false;
  const stop = (reason: unknown) => {
    if (over) return;
    over = true;
    reject(reason);
    reader.cancel(reason).catch(() => {});
    try {
      ctl?.error(reason);
    } catch {
      // already closed or errored
    }
  };
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      ctl = c;
    },
    async pull(c) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (err) {
        stop(err);
        return;
      }
      if (over) return;
      if (r.done) {
        over = true;
        c.close();
        resolve();
      } else {
        c.enqueue(r.value);
      }
    },
    cancel(reason) {
      stop(reason ?? new Error('the download was cancelled'));
    },
  });
  return { stream, finished, stop };
}

async function saveViaBlob(name: string, stream: ReadableStream<Uint8Array>): Promise<void> {
  const blob = await new Response(stream).blob();
  const url = URL.createObjectURL(new Blob([blob], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * A name a browser will accept for a download: no path separators, control
 * or bidi-override characters, never empty, '.' or '..'. Browsers clean
 * names too; this keeps what the worker sends predictable.
 */
export function safeFileName(name: string): string {
  // eslint-disable-next-line no-control-regex
  let s = name.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '').replace(/[/\\]/g, '_').trim();
  if (s === '' || s === '.' || s === '..') s = 'download';
  return s.length > 200 ? s.slice(0, 200) : s;
}

function randomToken(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function withTimeout<T>(p: Promise<T>, ms: number, message = 'timed out'): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(message)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/** A tiny async queue of messages. */
class Queue<T> {
  private items: T[] = [];
  private waiters: ((v: T) => void)[] = [];
  push(v: T): void {
    const w = this.waiters.shift();
    if (w) w(v);
    else this.items.push(v);
  }
  next(): Promise<T> {
    const v = this.items.shift();
    if (v !== undefined) return Promise.resolve(v);
    return new Promise<T>((resolve) => this.waiters.push(resolve));
  }
}
