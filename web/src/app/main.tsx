/** Entry point of the link page, served at /s/<link-id>#<secret>. */
import { render } from 'preact';
import { App } from './app.tsx';
import { createLinkBackend } from './linkclient.ts';
import { registerServiceWorker } from './save.ts';
import { LinkError, type LinkBackend } from './types.ts';
import './style.css';

async function backend(): Promise<LinkBackend | LinkError> {
  if (import.meta.env.MODE === 'demo') {
    // A fake backend for working on the UI (vite --mode demo); left out of real builds.
    const { createStubBackend } = await import('./stub.ts');
    return createStubBackend(location);
  }
  // The page's own address: /s/<link ID> and the secret in the fragment,
  // which never leaves the page (any query is not part of the link).
  try {
    return createLinkBackend(location.origin + location.pathname + location.hash);
  } catch (err) {
    return err instanceof LinkError ? err : new LinkError('bad-url', undefined, { cause: err });
  }
}

// Registered early, so that the worker is active by the time a download starts.
void registerServiceWorker();

const root = document.getElementById('app');
if (root) void backend().then((b) => render(<App backend={b} />, root));
