/**
 * The link page's service worker: it turns a stream decrypted in the page
 * into a download written to disk as it arrives (see app/save.ts, which
 * also describes the two versions of the page's message).
 *
 * Served at /s/sw.js with scope /s/. It answers only navigations to
 * /s/_dl/<token>, where <token> is a one-time 128-bit random value the page
 * registered a moment before with the stream; every other request goes to
 * the network untouched (no respondWith). It caches nothing, stores
 * nothing, fetches nothing, and forgets a stream once it is handed to the
 * browser or after a minute if nobody asked for it.
 *
 * Self-contained on purpose: it imports only swlib.ts, which the build
 * inlines, so the output is one classic script.
 */
import type { DownloadFeed, DownloadMessage, DownloadReply } from './app/save.ts';
import { contentDisposition } from './swlib.ts';

// The WebWorker lib conflicts with the DOM lib of the rest of the project,
// so the few service-worker types used here are declared by hand.
interface ExtendableEvent extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(r: Response | Promise<Response>): void;
}
interface ExtendableMessageEvent extends ExtendableEvent {
  readonly data: unknown;
  readonly origin: string;
}
interface SWGlobal {
  readonly location: Location;
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', fn: (e: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', fn: (e: FetchEvent) => void): void;
  addEventListener(type: 'message', fn: (e: ExtendableMessageEvent) => void): void;
}
declare const self: SWGlobal;

const PREFIX = '/s/_dl/';
const TTL_MS = 60_000;
const MAX_PENDING = 32;
const TOKEN = /^[0-9a-f]{32}$/;
/**
 * Version 2: chunks waiting here for the browser. Two let the page prepare
 * the next chunk while the browser writes this one, and no more than that
 * is held (chunks are up to 4 MiB).
 */
const QUEUE_CHUNKS = 2;

interface Pending {
  name: string;
  size: number | null;
  /** Version 1: the page's stream; version 2: none, the page feeds port. */
  stream?: ReadableStream<Uint8Array>;
  port: MessagePort;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Version 2: the download's body, fed by the page on port. Whenever the
 * queue has room, it asks the page for a chunk ('pull') and waits for it;
 * 'end' closes the body, 'error' fails it (the browser then marks the
 * download failed), and a download cancelled in the browser tells the
 * page ('cancel'). The channel is closed once the body is over.
 */
function fedStream(port: MessagePort): ReadableStream<Uint8Array> {
  let arrived: (() => void) | undefined;
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        port.onmessage = (e: MessageEvent<DownloadFeed | null>) => {
          const m = e.data;
          try {
            if (m?.type === 'chunk' && m.chunk instanceof Uint8Array) {
              c.enqueue(m.chunk);
            } else if (m?.type === 'end') {
              c.close();
              port.close();
            } else {
              c.error(new Error(m?.type === 'error' ? String(m.message) : 'unexpected message from the page'));
              port.close();
            }
          } catch {
            // The body is already closed or cancelled.
          }
          arrived?.();
          arrived = undefined;
        };
        // The page went away mid-download (where browsers tell: Chromium
        // fires close on a port whose other end is gone).
        port.addEventListener('close', () => {
          try {
            c.error(new Error('the page closed'));
          } catch {
            // already over
          }
          arrived?.();
          arrived = undefined;
        });
      },
      pull() {
        return new Promise<void>((resolve) => {
          arrived = resolve;
          port.postMessage({ type: 'pull' } satisfies DownloadReply);
        });
      },
      cancel() {
        port.postMessage({ type: 'cancel' } satisfies DownloadReply);
        port.close();
      },
    },
    new CountQueuingStrategy({ highWaterMark: QUEUE_CHUNKS }),
  );
}

const pending = new Map<string, Pending>();

self.addEventListener('install', () => {
  // A new version takes over at once: it holds no state worth keeping.
  void self.skipWaiting();
});

self.addEventListener('message', (e) => {
  if (e.origin !== self.location.origin) return;
  const m = e.data as Partial<DownloadMessage> | null;
  if (typeof m !== 'object' || m === null || m.type !== 'coffer-download') return; // pings: the event itself keeps the worker alive
  const port = m.port;
  if (!(port instanceof MessagePort)) return;
  const reply = (r: DownloadReply) => port.postMessage(r);
  if (m.v !== 1 && m.v !== 2) return reply({ type: 'refused', reason: 'version' });
  if (typeof m.token !== 'string' || !TOKEN.test(m.token) || pending.has(m.token)) return reply({ type: 'refused', reason: 'token' });
  if (typeof m.name !== 'string' || m.name === '' || m.name.length > 1024) return reply({ type: 'refused', reason: 'name' });
  if (m.size !== null && !(typeof m.size === 'number' && Number.isSafeInteger(m.size) && m.size >= 0)) return reply({ type: 'refused', reason: 'size' });
  const stream = m.v === 1 ? m.stream : undefined;
  if (m.v === 1 && !(stream instanceof ReadableStream)) return reply({ type: 'refused', reason: 'stream' });
  if (pending.size >= MAX_PENDING) return reply({ type: 'refused', reason: 'busy' });
  const token = m.token;
  const timer = setTimeout(() => {
    if (pending.get(token)?.port !== port) return;
    pending.delete(token);
    stream?.cancel('expired').catch(() => {});
    reply({ type: 'expired' });
    port.close();
  }, TTL_MS);
  pending.set(token, { name: m.name, size: m.size, stream, port, timer });
  reply({ type: 'ready' });
});

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(PREFIX)) return; // not ours: untouched
  const token = url.pathname.slice(PREFIX.length);
  const p = pending.get(token);
  if (!p || e.request.method !== 'GET' || e.request.mode !== 'navigate') {
    e.respondWith(
      new Response('This download has expired. Start it again from the link page.\n', {
        status: 404,
        headers: { 'Content-Type': 'text/plain; charset=utf-8', ...SAFE_HEADERS },
      }),
    );
    return;
  }
  pending.delete(token);
  clearTimeout(p.timer);
  const headers: Record<string, string> = {
    'Content-Type': 'application/octet-stream',
    'Content-Disposition': contentDisposition(p.name),
    ...SAFE_HEADERS,
  };
  if (p.size !== null) headers['Content-Length'] = String(p.size);
  e.respondWith(new Response(p.stream ?? fedStream(p.port), { headers }));
  p.port.postMessage({ type: 'started' } satisfies DownloadReply);
  // Version 1 is done with the port; version 2 feeds the body through it.
  if (p.stream) p.port.close();
});

/** Headers that keep a response from ever being rendered, framed or cached. */
const SAFE_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'none'; sandbox",
};
