/** Entry point of the link page, served at /s/<link-id>#<secret>. */
import { render } from 'preact';
import { App } from './app.tsx';
import { createLinkBackend } from './linkclient.ts';
import { registerServiceWorker } from './save.ts';
import { LinkError, type LinkBackend } from './types.ts';
import './style.css';

/** The link ID from the path and the secret from the fragment (which never leaves the page). */
function parseLocation(): { id: string; secret: string } | LinkError {
  const m = /^\/s\/([A-Za-z0-9_-]{1,128})\/?$/.exec(location.pathname);
  const secret = location.hash.replace(/^#/, '');
  if (!m || secret === '') return new LinkError('bad-url');
  return { id: m[1]!, secret };
}

async function backend(): Promise<LinkBackend | LinkError> {
  if (import.meta.env.MODE === 'demo') {
    // A fake backend for working on the UI (vite --mode demo); left out of real builds.
    const { createStubBackend } = await import('./stub.ts');
    return createStubBackend(location);
  }
  const where = parseLocation();
  if (where instanceof LinkError) return where;
  try {
    return createLinkBackend(location.origin, where.id, where.secret);
  } catch (err) {
    return err instanceof LinkError ? err : new LinkError('bad-url', undefined, { cause: err });
  }
}

// Registered early, so that the worker is active by the time a download starts.
void registerServiceWorker();

const root = document.getElementById('app');
if (root) void backend().then((b) => render(<App backend={b} />, root));
