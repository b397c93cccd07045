/** A link to a single file: its name, size and a Download button. */
import { useTransfer } from './hooks.ts';
import { displayName, exactSize, humanSize } from './format.ts';
import { CheckIcon, DownloadIcon, FileIcon } from './icons.tsx';
import { downloadFile } from './transfer.ts';
import type { FileLink } from './types.ts';
import { ErrorBanner, Progress } from './widgets.tsx';

export function FileView({ link }: { link: FileLink }) {
  const t = useTransfer();
  const f = link.file;
  const name = displayName(f.name);
  return (
    <div class="single" data-testid="file-view">
      <FileIcon class="icon hero-icon file-hero" />
      <h1 class="name" data-testid="file-name" title={name}>
        {name}
      </h1>
      <p class="muted" data-testid="file-size" title={exactSize(f.size)}>
        {humanSize(f.size)}
      </p>
      {t.error && <ErrorBanner error={t.error} />}
      {t.state ? (
        <Progress state={t.state} onCancel={t.cancel} />
      ) : (
        <button
          class="button primary wide"
          type="button"
          data-testid="download"
          onClick={() => void t.run(`Downloading ${name}`, `Downloaded ${name}`, (p, s) => downloadFile(link, f, p, s))}
        >
          <DownloadIcon /> Download
        </button>
      )}
      {t.done && !t.state && (
        <p class="done" data-testid="done">
          <CheckIcon /> {t.done}
        </p>
      )}
    </div>
  );
}
