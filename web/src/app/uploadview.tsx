/** An upload-only link (a file request): a drop zone, a file picker, a queue with progress. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { asLinkError, errorText } from './errors.ts';
import { displayName, exactSize, humanSize, plural } from './format.ts';
import { CheckIcon, UploadIcon } from './icons.tsx';
import { LinkError, type UploadLink } from './types.ts';
import { ErrorBanner, Progress } from './widgets.tsx';

type Status = 'waiting' | 'uploading' | 'done' | 'failed' | 'cancelled';

interface Item {
  key: number;
  file: File;
  status: Status;
  done: number;
  error?: LinkError;
}

const STATUS_TEXT: Record<Status, string> = { waiting: 'Waiting', uploading: 'Uploading', done: 'Sent', failed: 'Failed', cancelled: 'Cancelled' };

let nextKey = 1;

export function UploadView({ link }: { link: UploadLink }) {
  const [items, setItems] = useState<Item[]>([]);
  const [dragging, setDragging] = useState(false);
  const [notice, setNotice] = useState<LinkError | undefined>();
  const input = useRef<HTMLInputElement>(null);
  const running = useRef(false);
  const ctl = useRef<AbortController | undefined>(undefined);
  const itemsRef = useRef(items);
  itemsRef.current = items;

  const update = (key: number, patch: Partial<Item>) => setItems((list) => list.map((it) => (it.key === key ? { ...it, ...patch } : it)));

  // Uploads the waiting files one after the other.
  const pump = async () => {
    if (running.current) return;
    running.current = true;
    try {
      for (;;) {
        const next = itemsRef.current.find((it) => it.status === 'waiting');
        if (!next) break;
        const c = new AbortController();
        ctl.current = c;
        next.status = 'uploading'; // so that the loop does not pick it again before the re-render
        update(next.key, { status: 'uploading', done: 0 });
        try {
          await link.upload(next.file, (done) => update(next.key, { done }), c.signal);
          update(next.key, { status: 'done', done: next.file.size });
        } catch (err) {
          if (c.signal.aborted) update(next.key, { status: 'cancelled' });
          else update(next.key, { status: 'failed', error: asLinkError(err, 'interrupted') });
        }
        // Let the state settle so that itemsRef is current.
        await new Promise((r) => setTimeout(r, 0));
      }
    } finally {
      ctl.current = undefined;
      running.current = false;
    }
  };

  const add = (files: Iterable<File>) => {
    const list = [...files];
    if (list.length === 0) return;
    setNotice(undefined);
    const { maxFiles, maxBytes } = link.limits;
    const kept = itemsRef.current.filter((it) => it.status !== 'failed' && it.status !== 'cancelled');
    let count = kept.length;
    let bytes = kept.reduce((n, it) => n + it.file.size, 0);
    const accepted: Item[] = [];
    const refused: string[] = [];
    for (const file of list) {
      if (maxFiles !== undefined && count >= maxFiles) {
        refused.push(`${displayName(file.name)}: this link takes ${maxFiles === 0 ? 'no more files' : `at most ${plural(maxFiles, 'more file')}`}`);
      } else if (maxBytes !== undefined && bytes + file.size > maxBytes) {
        refused.push(`${displayName(file.name)} is too large: this link takes ${humanSize(Math.max(0, maxBytes - bytes))} more`);
      } else {
        accepted.push({ key: nextKey++, file, status: 'waiting', done: 0 });
        count++;
        bytes += file.size;
      }
    }
    if (refused.length) setNotice(new LinkError('upload-refused', undefined, { detail: refused.join('; ') + '.' }));
    if (accepted.length) {
      itemsRef.current = [...itemsRef.current, ...accepted];
      setItems(itemsRef.current);
      void pump();
    }
  };

  // Dropping a file next to the zone must not make the browser open it
  // (and leave the page).
  useEffect(() => {
    const stop = (e: DragEvent) => e.preventDefault();
    window.addEventListener('dragover', stop);
    window.addEventListener('drop', stop);
    return () => {
      window.removeEventListener('dragover', stop);
      window.removeEventListener('drop', stop);
    };
  }, []);

  const active = items.filter((it) => it.status === 'waiting' || it.status === 'uploading');
  const batch = items.filter((it) => it.status !== 'failed' && it.status !== 'cancelled');
  const total = batch.reduce((n, it) => n + it.file.size, 0);
  const done = batch.reduce((n, it) => n + it.done, 0);
  const sent = items.filter((it) => it.status === 'done').length;
  const current = items.find((it) => it.status === 'uploading');
  const { maxFiles, maxBytes } = link.limits;

  return (
    <div class="upload" data-testid="upload-view">
      <h1>Send files</h1>
      <p class="muted">
        Your files are encrypted in this browser before they leave it. Only the owner of this link can open them; you cannot see what is already there.
      </p>
      <div
        class={dragging ? 'dropzone dragging' : 'dropzone'}
        data-testid="drop-zone"
        role="button"
        tabIndex={0}
        aria-label="Drop files here, or press to choose files"
        onClick={() => input.current?.click()}
        onKeyDown={(e) => {
          if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault();
            input.current?.click();
          }
        }}
        onDragEnter={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragOver={(e) => {
          e.preventDefault();
          if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
          setDragging(true);
        }}
        onDragLeave={(e) => {
          if (e.currentTarget === e.target) setDragging(false);
        }}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          if (e.dataTransfer) add(e.dataTransfer.files);
        }}
      >
        <UploadIcon class="icon drop-icon" />
        <strong>Drop files here</strong>
        <span class="muted">
          or <span class="fake-link">choose files</span>
        </span>
        <input
          ref={input}
          type="file"
          multiple
          hidden
          data-testid="file-input"
          onChange={(e) => {
            const el = e.currentTarget;
            if (el.files) add(el.files);
            el.value = '';
          }}
        />
      </div>
      {(maxFiles !== undefined || maxBytes !== undefined) && (
        <p class="muted limits" data-testid="limits">
          This link takes {[maxFiles !== undefined ? `up to ${plural(maxFiles, 'more file')}` : '', maxBytes !== undefined ? `up to ${humanSize(maxBytes)} in all` : '']
            .filter(Boolean)
            .join(', ')}
          .
        </p>
      )}
      {notice && <ErrorBanner error={notice} />}
      {active.length > 0 && (
        <Progress
          state={{ label: current ? `Sending ${displayName(current.file.name)} (${plural(active.length, 'file')} left)` : 'Sending…', done, total }}
          onCancel={() => {
            for (const it of itemsRef.current) if (it.status === 'waiting') it.status = 'cancelled';
            setItems((list) => list.map((it) => (it.status === 'waiting' ? { ...it, status: 'cancelled' } : it)));
            ctl.current?.abort();
          }}
        />
      )}
      {active.length === 0 && sent > 0 && (
        <p class="done" data-testid="upload-done">
          <CheckIcon /> {plural(sent, 'file')} sent.
        </p>
      )}
      {items.length > 0 && (
        <ul class="uploads" data-testid="upload-list">
          {items.map((it) => (
            <li key={it.key} class={`upload-row status-${it.status}`} data-testid="upload-row" data-name={it.file.name} data-status={it.status}>
              <span class="row-name" title={displayName(it.file.name)}>
                {displayName(it.file.name)}
              </span>
              <span class="row-size" title={exactSize(it.file.size)}>
                {humanSize(it.file.size)}
              </span>
              <span class="row-status">
                {it.status === 'uploading' && it.file.size > 0 ? `${Math.floor((it.done / it.file.size) * 100)}%` : STATUS_TEXT[it.status]}
              </span>
              {it.error && (
                <span class="row-error" data-testid="upload-error">
                  {errorText(it.error).title}: {errorText(it.error).detail}
                </span>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
