/**
 * The link page's data layer: talks to the server per docs/api.md ("Public
 * links") and verifies everything per docs/crypto.md §13.13.
 *
 * Placeholder until the API and the crypto library's link module exist:
 * every link fails with 'unsupported'.
 */
import { LinkError, type LinkBackend } from './types.ts';

export function createLinkBackend(origin: string, id: string, secret: string): LinkBackend {
  void origin;
  void id;
  void secret;
  const fail = () => Promise.reject(new LinkError('unsupported', 'public links are not implemented yet'));
  return { probe: fail, unlock: fail };
}
