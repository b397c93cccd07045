/** The password form, for links whose owner set a password. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { LockIcon } from './icons.tsx';
import type { LinkError } from './types.ts';
import { ErrorBanner } from './widgets.tsx';

export function PasswordForm({ error, busy, onSubmit }: { error?: LinkError; busy: boolean; onSubmit: (password: string) => void }) {
  const [password, setPassword] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (!busy) input.current?.focus();
  }, [busy, error]);
  return (
    <form
      class="password"
      data-testid="password-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (!busy && password !== '') onSubmit(password);
      }}
    >
      <LockIcon class="icon hero-icon" />
      <h1>This link is protected by a password</h1>
      <p class="muted">Enter the password you were given with the link.</p>
      {error && <ErrorBanner error={error} />}
      <label class="field-label" for="link-password">
        Password
      </label>
      <input
        id="link-password"
        ref={input}
        class="field"
        type="password"
        name="password"
        autocomplete="off"
        spellcheck={false}
        data-testid="password-input"
        value={password}
        disabled={busy}
        onInput={(e) => setPassword(e.currentTarget.value)}
      />
      <button class="button primary wide" type="submit" data-testid="password-submit" disabled={busy || password === ''}>
        {busy ? 'Unlocking…' : 'Open'}
      </button>
    </form>
  );
}
