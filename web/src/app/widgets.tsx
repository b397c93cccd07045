/** Small shared pieces of the link page. */
import { errorText, technicalText } from './errors.ts';
import { exactSize, humanSize } from './format.ts';
import { AlertIcon } from './icons.tsx';
import type { LinkError } from './types.ts';

export function ErrorBanner({ error }: { error: LinkError }) {
  const t = errorText(error);
  return (
    <div class="banner error" role="alert" data-testid="error" data-code={error.code}>
      <AlertIcon class="icon banner-icon" />
      <div>
        <strong data-testid="error-title">{t.title}</strong>
        <p data-testid="error-detail">{t.detail}</p>
        {technicalText(error) && <p class="tech">{technicalText(error)}</p>}
      </div>
    </div>
  );
}

/** The whole card for a link that cannot be opened. */
export function FailureView({ error }: { error: LinkError }) {
  const t = errorText(error);
  return (
    <div class="failure" role="alert" data-testid="error" data-code={error.code}>
      <AlertIcon class="icon hero-icon" />
      <h1 data-testid="error-title">{t.title}</h1>
      <p class="muted" data-testid="error-detail">
        {t.detail}
      </p>
      {technicalText(error) && <p class="tech">{technicalText(error)}</p>}
    </div>
  );
}

export function Spinner({ label }: { label: string }) {
  return (
    <div class="status" data-testid="status" role="status">
      <span class="spinner" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

export interface TransferState {
  label: string;
  done: number;
  total?: number;
}

/** A progress bar with its label and "12 MB of 1.0 GB · 1%". */
export function Progress({ state, onCancel }: { state: TransferState; onCancel?: () => void }) {
  const { label, done, total } = state;
  const pct = total ? Math.min(100, Math.floor((done / total) * 100)) : undefined;
  return (
    <div class="progress" data-testid="transfer">
      <div class="progress-head">
        <span class="progress-label">{label}</span>
        <span class="progress-figures" title={exactSize(done)}>
          {total !== undefined ? `${humanSize(done)} of ${humanSize(total)} · ${pct}%` : humanSize(done)}
        </span>
      </div>
      {total !== undefined ? (
        <progress key="determinate" data-testid="progress" value={done} max={Math.max(total, 1)} />
      ) : (
        <progress key="indeterminate" data-testid="progress" />
      )}
      {onCancel && (
        <button type="button" class="link-button" data-testid="cancel" onClick={onCancel}>
          Cancel
        </button>
      )}
    </div>
  );
}
