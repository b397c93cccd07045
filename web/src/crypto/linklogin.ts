/**
 * Opening a public link (crypto.md §13.13, docs/api.md "Public links"),
 * the client's checks in order, without the HTTP:
 *
 *   const url = parseLinkURL(location.href);
 *   const info = await GET /v1/links/{b64url(url.id)}          // WireLinkInfo
 *   const login = await LinkLogin.start(url, info, password);  // KDF checked, then Argon2id
 *   const { handshake_id, b } = await POST .../login/start {"a": toBase64(login.A)}
 *   const m1 = login.finish(fromBase64(b));                    // B mod N != 0, u != 0
 *   const fin = await POST .../login/finish {"handshake_id", "m1": toBase64(m1)}
 *   const link = await login.complete(fin);                    // M2, then the payload
 *
 * A wrong password shows as the server's 401 on login/finish (or a
 * DecryptError from complete for a server that accepted a wrong proof).
 */

import { bytesEqual, fromBase64, type Bytes } from './bytes.ts';
import { CofferCryptoError } from './errors.ts';
import { kdfParamsFromWire, type WireKDF } from './kdf.ts';
import {
  deriveLinkKeys,
  LINK_READ,
  LINK_UPLOAD,
  linkAuthor,
  openLinkPayload,
  wipeLinkKeys,
  type LinkKeys,
  type LinkPayload,
  type LinkURL,
} from './link.ts';
import { GROUP_3072, SRPClient } from './srp.ts';

/** GET /v1/links/{id} (internal/api.LinkInfo); byte fields in standard base64. */
export interface WireLinkInfo {
  id: string;
  kind: number;
  password: boolean;
  salt: string;
  kdf: WireKDF;
  expires_at?: string;
  max_files?: number;
  max_bytes?: number;
  files?: number;
  bytes?: number;
}

/** POST /v1/links/{id}/login/finish's answer (internal/api.LinkLoginFinishResponse). */
export interface WireLinkLoginFinish {
  m2: string;
  token: string;
  volume: string;
  node: string;
  kind: number;
  payload: string;
  expires_at?: string;
}

/** An opened link: what the payload says, and where it is. */
export interface OpenedLink {
  /** The link keys (for an upload link: they sign the drops). */
  keys: LinkKeys;
  payload: LinkPayload;
  /** The linked node's volume and node ID, as the server named them; the payload's AD binds them. */
  volume: Bytes;
  node: Bytes;
  kind: number;
  /** The link session token (Authorization: Bearer). */
  token: string;
}

/** One login to a link. Use once. */
export class LinkLogin {
  private constructor(
    private readonly url: LinkURL,
    private readonly kind: number,
    private readonly salt: Bytes,
    readonly keys: LinkKeys,
    private readonly srp: SRPClient,
  ) {}

  /**
   * Checks the link's public info against the URL (same ID, a known kind,
   * Argon2id within the floor and ceiling, a 16-byte salt) and derives
   * the link keys from the URL's secret and the password ("" if the info
   * says none is set). Throws WeakKDFError / KDFTooCostlyError /
   * CofferCryptoError before running Argon2id on anything the server chose
   * badly.
   */
  static async start(url: LinkURL, info: WireLinkInfo, password: string): Promise<LinkLogin> {
    if (!bytesEqual(fromBase64(info.id), url.id)) throw new CofferCryptoError("link: the server's info is for another link");
    if (info.kind !== LINK_READ && info.kind !== LINK_UPLOAD) throw new CofferCryptoError(`link: unknown link kind ${info.kind}`);
    const params = kdfParamsFromWire(info.kdf);
    const salt = fromBase64(info.salt);
    const keys = await deriveLinkKeys(url.secret, info.password ? password : '', url.id, salt, params);
    return new LinkLogin(url, info.kind, salt, keys, new SRPClient(GROUP_3072));
  }

  /** PAD(A), for login/start as {"a": toBase64(A)}. */
  get A(): Bytes {
    return this.srp.A;
  }

  /** Given B from login/start, returns M1 for login/finish. Throws SRPIllegalParameterError. */
  finish(B: Uint8Array): Bytes {
    return this.srp.finish(linkAuthor(this.url.id), this.salt, this.keys.srpX, B);
  }

  /**
   * Checks the server's M2 (SRPBadProofError), that it names the kind the
   * info named, and opens the payload for the link, volume, node and kind
   * (DecryptError). Returns the opened link.
   */
  async complete(fin: WireLinkLoginFinish): Promise<OpenedLink> {
    this.srp.verifyServer(fromBase64(fin.m2));
    if (fin.kind !== this.kind) throw new CofferCryptoError('link: the server changed the link kind');
    const volume = fromBase64(fin.volume);
    const node = fromBase64(fin.node);
    const payload = await openLinkPayload(this.keys, this.url.id, volume, node, fin.kind, fromBase64(fin.payload));
    return { keys: this.keys, payload, volume, node, kind: fin.kind, token: fin.token };
  }

  /** Forgets the link keys (after a failed login). */
  wipe(): void {
    wipeLinkKeys(this.keys);
  }
}
