/** State of one transfer at a time (a download, a zip, an upload batch). */
import { useCallback, useRef, useState } from 'preact/hooks';
import { asLinkError } from './errors.ts';
import type { ProgressFn } from './transfer.ts';
import type { LinkError } from './types.ts';
import type { TransferState } from './widgets.tsx';

export interface Transfer {
  /** The transfer under way, if any. */
  state?: TransferState;
  /** The last transfer's error (cleared when a new one starts). */
  error?: LinkError;
  /** What the last transfer that finished well did, e.g. "Downloaded report.pdf". */
  done?: string;
  busy: boolean;
  /**
   * Runs job (one at a time): its progress shows under label; its error, if
   * any, in the banner. A job cancelled by the user ends quietly.
   */
  run(label: string, doneText: string, job: (progress: ProgressFn, signal: AbortSignal) => Promise<void>): Promise<void>;
  setLabel(label: string): void;
  cancel(): void;
}

export function useTransfer(): Transfer {
  const [state, setState] = useState<TransferState | undefined>();
  const [error, setError] = useState<LinkError | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const ctl = useRef<AbortController | undefined>(undefined);

  const run = useCallback(async (label: string, doneText: string, job: (progress: ProgressFn, signal: AbortSignal) => Promise<void>) => {
    if (ctl.current) return;
    const c = new AbortController();
    ctl.current = c;
    setError(undefined);
    setDone(undefined);
    setState({ label, done: 0 });
    try {
      await job((d, total) => setState((s) => ({ label: s?.label ?? label, done: d, total })), c.signal);
      setDone(doneText);
    } catch (err) {
      if (!c.signal.aborted) setError(asLinkError(err, 'interrupted'));
    } finally {
      ctl.current = undefined;
      setState(undefined);
    }
  }, []);

  const setLabel = useCallback((label: string) => setState((s) => (s ? { ...s, label } : s)), []);
  const cancel = useCallback(() => ctl.current?.abort(), []);

  return { state, error, done, busy: state !== undefined, run, setLabel, cancel };
}
