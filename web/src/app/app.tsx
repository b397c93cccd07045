/** The link page: opens the link, asks for its password if any, then shows what it holds. */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { asLinkError } from './errors.ts';
import { FileView } from './fileview.tsx';
import { FolderView } from './folderview.tsx';
import { LockIcon, Logo } from './icons.tsx';
import { PasswordForm } from './password.tsx';
import type { LinkBackend, LinkError, OpenLink } from './types.ts';
import { UploadView } from './uploadview.tsx';
import { FailureView, Spinner } from './widgets.tsx';

type State =
  | { s: 'checking' }
  | { s: 'password'; busy: boolean; error?: LinkError }
  | { s: 'unlocking' }
  | { s: 'open'; link: OpenLink }
  | { s: 'failed'; error: LinkError };

/** Errors after which asking for the password again makes sense. */
const RETRY_PASSWORD = new Set(['wrong-password', 'rate-limited', 'network']);

export function App({ backend }: { backend: LinkBackend | LinkError }) {
  const [state, setState] = useState<State>(() => (backend instanceof Error ? { s: 'failed', error: backend } : { s: 'checking' }));

  const unlock = useCallback(
    async (password: string, asked: boolean) => {
      if (backend instanceof Error) return;
      setState(asked ? { s: 'password', busy: true } : { s: 'unlocking' });
      try {
        const link = await backend.unlock(password);
        setState({ s: 'open', link });
      } catch (err) {
        const e = asLinkError(err);
        setState(asked && RETRY_PASSWORD.has(e.code) ? { s: 'password', busy: false, error: e } : { s: 'failed', error: e });
      }
    },
    [backend],
  );

  useEffect(() => {
    if (backend instanceof Error) return;
    let live = true;
    backend.probe().then(
      (info) => {
        if (!live) return;
        if (info.passwordRequired) setState({ s: 'password', busy: false });
        else void unlock('', false);
      },
      (err: unknown) => live && setState({ s: 'failed', error: asLinkError(err) }),
    );
    return () => {
      live = false;
    };
  }, [backend, unlock]);

  useEffect(() => {
    if (state.s === 'open') {
      const l = state.link;
      document.title = `${l.kind === 'upload' ? 'Send files' : l.kind === 'file' ? l.file.name : l.root.name} · Coffer`;
    }
  }, [state]);

  return (
    <div class="page" data-state={state.s}>
      <header class="brand">
        <Logo />
        <span>Coffer</span>
      </header>
      <main class={state.s === 'open' && state.link.kind === 'folder' ? 'card wide' : 'card'}>
        {state.s === 'checking' && <Spinner label="Opening the link…" />}
        {state.s === 'unlocking' && <Spinner label="Decrypting… this takes a few seconds." />}
        {state.s === 'password' && <PasswordForm busy={state.busy} error={state.error} onSubmit={(pw) => void unlock(pw, true)} />}
        {state.s === 'failed' && <FailureView error={state.error} />}
        {state.s === 'open' && state.link.kind === 'file' && <FileView link={state.link} />}
        {state.s === 'open' && state.link.kind === 'folder' && <FolderView link={state.link} />}
        {state.s === 'open' && state.link.kind === 'upload' && <UploadView link={state.link} />}
      </main>
      <footer class="footnote">
        <LockIcon class="icon tiny" />
        <span>End-to-end encrypted. Files are decrypted and encrypted in this browser: the server never sees their names or contents.</span>
      </footer>
    </div>
  );
}
