/**
 * A dedicated worker of the link page: runs block jobs (fetch, ID check,
 * open) for BlockPool (blocks.ts) and hands each plaintext back by
 * transferring its buffer, not copying it.
 */
import { failureOf, runJob, type FromWorker, type ToWorker } from './blocks.ts';

// The WebWorker lib conflicts with the DOM lib of the rest of the project,
// so the little used here is declared by hand.
declare const self: {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(m: FromWorker, transfer?: Transferable[]): void;
};

const running = new Map<number, AbortController>();

self.onmessage = (e) => {
  const m = e.data;
  if (m.type === 'abort') {
    running.get(m.n)?.abort();
    running.delete(m.n);
    return;
  }
  const ctl = new AbortController();
  running.set(m.n, ctl);
  runJob(m.job, ctl.signal).then(
    (plain) => {
      running.delete(m.n);
      self.postMessage({ n: m.n, ok: true, plain }, [plain.buffer]);
    },
    (err: unknown) => {
      running.delete(m.n);
      self.postMessage({ n: m.n, ok: false, failure: failureOf(err) });
    },
  );
};
