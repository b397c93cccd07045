/**
 * Saving a decrypted stream to disk without holding it in memory.
 *
 * The page hands the stream to the service worker (sw.ts, served at
 * /s/sw.js with scope /s/) by transferring it through postMessage, then
 * points a hidden iframe at /s/_dl/<token>. The service worker answers
 * that navigation with the stream as an attachment, so the browser's own
 * download manager writes it to disk as it arrives: the page never holds
 * more than the few chunks in flight, whatever the size.
 *
 * The token is 128 random bits, used once, and forgotten by the worker
 * after a minute if nothing asked for it. The URL carries nothing else (no
 * file name), so if the worker were not there the server would learn
 * nothing from the request.
 */

/** Message from the page to the service worker (see sw.ts). */
export interface DownloadMessage {
  type: 'coffer-download';
  v: 1;
  token: string;
  name: string;
  size: number | null;
  stream: ReadableStream<Uint8Array>;
  port: MessagePort;
}

/** Replies from the service worker on the message's port. */
export type DownloadReply = { type: 'ready' } | { type: 'started' } | { type: 'expired' } | { type: 'refused'; reason: string };

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
  if (worker && streamsTransferable()) {
    await saveViaServiceWorker(worker, safeFileName(name), size, stream);
    return 'service-worker';
  }
  // Fallback, only where no service worker can be used (see
  // registerServiceWorker): the whole file is collected in memory as a
  // Blob first, so very large files may fail in this case.
  await saveViaBlob(safeFileName(name), stream);
  return 'blob';
}

async function saveViaServiceWorker(worker: ServiceWorker, name: string, size: number | undefined, source: ReadableStream<Uint8Array>): Promise<void> {
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
