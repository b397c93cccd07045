/** What the page says for each error: a title and a sentence, in words. */
import { humanWait } from './format.ts';
import { LinkError, type LinkErrorCode } from './types.ts';

export interface ErrorText {
  title: string;
  detail: string;
}

const TEXT: Record<LinkErrorCode, ErrorText> = {
  'bad-url': {
    title: 'This link is incomplete',
    detail: 'Part of the link is missing or damaged (the part after “#” holds the key). Copy the whole link again.',
  },
  'not-found': {
    title: 'This link does not exist',
    detail: 'Check that you copied all of it, or ask the person who sent it for a new one.',
  },
  expired: { title: 'This link has expired', detail: 'Ask the person who sent it for a new one.' },
  revoked: { title: 'This link was turned off', detail: 'Its owner revoked it. Ask them for a new one if you still need the files.' },
  gone: { title: 'The shared item was deleted', detail: 'Its owner deleted it or moved it to the trash. Ask them to share it again.' },
  'limit-reached': {
    title: 'This link has reached its download limit',
    detail: 'It was downloaded as many times as its owner allowed. Ask them for a new link.',
  },
  'wrong-password': { title: 'Wrong password', detail: 'Check the password you were given and try again.' },
  'rate-limited': { title: 'Too many attempts', detail: 'Wait a little, then try again.' },
  tampered: {
    title: 'The files could not be verified',
    detail:
      'What the server sent does not match what the owner shared, so it may have been tampered with. Nothing from it was shown or saved.',
  },
  'upload-refused': { title: 'The upload was refused', detail: 'The server did not accept the file.' },
  unsupported: {
    title: 'This browser cannot open the link',
    detail: 'Try a recent version of Chrome, Edge, Firefox or Safari.',
  },
  interrupted: {
    title: 'The transfer stopped',
    detail: 'It was cancelled, or the browser could not save the file. Try again.',
  },
  'session-ended': { title: 'This page was open too long', detail: 'Reload the page to open the link again.' },
  network: { title: 'The server could not be reached', detail: 'Check your connection and try again.' },
  server: { title: 'Something went wrong on the server', detail: 'Try again in a moment.' },
};

/**
 * Turns any error into a LinkError. The data layer throws LinkErrors; any
 * other error met during a transfer (the user cancelled it in the browser,
 * the disk is full, the download helper failed) becomes `fallback`.
 */
export function asLinkError(err: unknown, fallback: LinkErrorCode = 'server'): LinkError {
  if (err instanceof LinkError) return err;
  if (err instanceof Error && err.cause instanceof LinkError) return err.cause;
  return new LinkError(fallback, err instanceof Error ? err.message : String(err), { cause: err });
}

/** The words for err: the code's title, and its standard sentence unless the error brings its own. */
export function errorText(err: LinkError): ErrorText {
  const t = TEXT[err.code];
  if (err.detail) return { title: t.title, detail: err.detail };
  if (err.code === 'rate-limited' && err.retryAfter !== undefined) {
    return { title: t.title, detail: `Wait ${humanWait(err.retryAfter)}, then try again.` };
  }
  return t;
}

/** The technical message worth showing (small) under the words, if any. */
export function technicalText(err: LinkError): string | undefined {
  if (err.code !== 'tampered' && err.code !== 'server' && err.code !== 'interrupted' && err.code !== 'unsupported') return undefined;
  return err.message && err.message !== err.code ? err.message : undefined;
}
