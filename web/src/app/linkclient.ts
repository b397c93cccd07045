/**
 * The link page's data layer: talks to the server as docs/api.md ("Public
 * links") says, and verifies and decrypts everything as docs/crypto.md
 * §13.13 says, with the crypto library (src/crypto). The UI gets only
 * what verified (types.ts).
 *
 * The secret (from the URL fragment) and the password stay in this page:
 * the server gets only the SRP values, and then a link session token.
 * Nothing here is logged or stored.
 */
import {
  BadNameError,
  DecryptError,
  bytesEqual,
  checkLinkHead,
  CofferCryptoError,
  finishLinkDrop,
  fromBase64,
  isDrop,
  KDFTooCostlyError,
  LinkLogin,
  KIND_FILE,
  KIND_FOLDER,
  LINK_READ,
  LINK_UPLOAD,
  linkAuthor,
  MAX_LINK_PASSWORD_LEN,
  NodeKeys,
  nodeRecordFromWire,
  openLinkPayload,
  openRecordName,
  parseLinkURL,
  prepareLinkDrop,
  recordRef,
  RevisionReader,
  revisionRecordFromWire,
  RevisionWriter,
  SRPBadProofError,
  toBase64,
  toBase64Url,
  toHex,
  unwrapNodeKey,
  utf8,
  verifyLinkChild,
  verifyLinkRoot,
  WeakKDFError,
  wipe,
  BLOCK_SIZE,
  BadRecordError,
  type BlockOpenerParams,
  type Bytes,
  type LinkKeys,
  type LinkPayload,
  type LinkURL,
  type OpenedLink,
  type WireLinkInfo,
  type WireLinkLoginFinish,
  type NodeRecord,
  type RevisionRecord,
  type WireNode,
  type WireRevision,
} from '../crypto/index.ts';
import { BlockPool, type JobFailure } from './blocks.ts';
import { handOver } from './save.ts';
import {
  LinkError,
  type Entry,
  type FileEntry,
  type FileLink,
  type FolderEntry,
  type FolderLink,
  type LinkBackend,
  type LinkInfo,
  type Listing,
  type OpenLink,
  type ReadOptions,
  type UploadLink,
} from './types.ts';

/**
 * Blocks of a download fetched, checked and opened at once (by the block
 * workers, blocks.ts), ahead of the one the page hands over next. With
 * the one being handed over, this bounds a download's memory to a few
 * blocks whatever the file's size.
 */
const BLOCKS_AHEAD = 4;
/**
 * Block workers: at least 2, so that one block's fetch overlaps another's
 * crypto even on 2 cores (the page's own thread hashes); one fewer than the
 * cores on larger machines, and never more than the jobs at once.
 */
const BLOCK_WORKERS = Math.min(BLOCKS_AHEAD, Math.max(2, (globalThis.navigator?.hardwareConcurrency ?? 2) - 1));
/** Blocks uploading at once. */
const UPLOADS_AT_ONCE = 2;

// The API's JSON (internal/api/link.go); byte strings are standard base64.
// WireLinkInfo and WireLinkLoginFinish come with the crypto library's LinkLogin.
interface WireLoginStart {
  handshake_id: string;
  b: string;
}

/** What a request is for: it decides how some refusals are worded. */
type Purpose = 'open' | 'read' | 'upload';

interface RequestOptions {
  json?: unknown;
  body?: Uint8Array<ArrayBuffer>;
  signal?: AbortSignal;
  purpose: Purpose;
}

/** Requests to one link's endpoints, /v1/links/<id>/..., with the link session once there is one. */
class LinkAPI {
  token?: string;
  constructor(
    private readonly origin: string,
    private readonly base: string,
  ) {}

  /** The absolute URL of path under the link's endpoints. */
  url(path: string): string {
    return this.origin + this.base + path;
  }

  async request(method: string, path: string, o: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    let body: BodyInit | undefined;
    if (o.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(o.json);
    } else if (o.body !== undefined) {
      headers['Content-Type'] = 'application/octet-stream';
      body = o.body;
    }
    if (this.token) headers['Authorization'] = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(this.url(path), {
        method,
        headers,
        body,
        signal: o.signal,
        credentials: 'omit',
        cache: 'no-store',
        redirect: 'error',
        referrerPolicy: 'no-referrer',
      });
    } catch (err) {
      if (o.signal?.aborted) throw o.signal.reason;
      throw new LinkError('network', err instanceof Error ? err.message : String(err), { cause: err });
    }
    if (!res.ok) throw await responseError(res, o.purpose);
    return res;
  }

  async json<T>(method: string, path: string, o: RequestOptions): Promise<T> {
    const res = await this.request(method, path, o);
    try {
      return (await res.json()) as T;
    } catch (err) {
      throw new LinkError('server', `${method} ${path}: the answer is not JSON`, { cause: err });
    }
  }
}

/** The words for a refusal by the server (docs/api.md error codes). */
async function responseError(res: Response, purpose: Purpose): Promise<LinkError> {
  let body = '';
  try {
    body = await res.text();
  } catch {
    // no body
  }
  return httpError(res.status, body, res.headers.get('Retry-After'), purpose);
}

/** responseError from the parts of an answer (as a block worker reports them). */
function httpError(status: number, body: string, retryAfter: string | null, purpose: Purpose): LinkError {
  let code = '';
  let message = '';
  try {
    const b = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } } | null;
    if (typeof b?.error?.code === 'string') code = b.error.code;
    if (typeof b?.error?.message === 'string') message = b.error.message.slice(0, 300);
  } catch {
    // not the API's error shape
  }
  const tech = `HTTP ${status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`;
  switch (code) {
    case 'link_expired':
      return new LinkError('expired', tech);
    case 'link_revoked':
      return new LinkError('revoked', tech);
    case 'link_exhausted':
      return new LinkError('limit-reached', tech);
    case 'link_gone':
      return new LinkError('gone', tech);
    case 'auth_failed':
      return new LinkError('wrong-password', tech);
  }
  if (status === 429) {
    const s = Number(retryAfter);
    return new LinkError('rate-limited', tech, Number.isFinite(s) && s > 0 ? { retryAfter: s } : undefined);
  }
  if (status === 401) return new LinkError(purpose === 'open' ? 'wrong-password' : 'session-ended', tech);
  if (status === 410) return new LinkError('revoked', tech);
  if (purpose === 'upload') {
    if (status === 413) return new LinkError('upload-refused', tech, { detail: 'The link has reached the total size its owner allows.' });
    if (status === 507) return new LinkError('upload-refused', tech, { detail: "The owner's storage is full." });
    if (status === 403) return new LinkError('upload-refused', tech, { detail: 'The link takes no more files.' });
    if (status === 400) return new LinkError('upload-refused', tech, { detail: message ? `The server refused the file: ${message}` : 'The server refused the file.' });
  }
  if (status === 404) {
    if (purpose === 'open') return new LinkError('not-found', tech);
    return new LinkError('server', tech, { detail: 'The server no longer has this item: it may have changed since the page was opened. Reload the page.' });
  }
  return new LinkError('server', tech);
}

/** The error for a block job that failed (blocks.ts); tampered() words it for the page. */
function jobError(f: JobFailure): unknown {
  switch (f.kind) {
    case 'http':
      return httpError(f.status, f.body, f.retryAfter, 'read');
    case 'network':
      return new LinkError('network', f.message);
    case 'too-large':
      return new LinkError('tampered', `a block of ${f.length} bytes (blocks are at most 4 MiB)`);
    case 'decrypt':
      return new DecryptError(f.message);
    case 'crypto':
      return new CofferCryptoError(f.message);
    case 'other':
      return new Error(f.message);
    case 'aborted':
      return new Error('aborted');
  }
}

/**
 * A failure to verify or decrypt what the server sent: every crypto error
 * means the server (or something between) changed it.
 */
function tampered(err: unknown, what: string): LinkError {
  if (err instanceof LinkError) return err;
  if (err instanceof WeakKDFError || err instanceof KDFTooCostlyError) {
    return new LinkError('tampered', `${what}: ${err.message}`, {
      cause: err,
      detail: 'The server asked for key-derivation settings outside the allowed range (a downgrade attempt?). The link was not opened.',
    });
  }
  if (err instanceof CofferCryptoError) return new LinkError('tampered', `${what}: ${err.message}`, { cause: err });
  return new LinkError('server', `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** Decodes a base64 field of the server's JSON; a malformed one is the server's fault. */
function b64(s: unknown, what: string): Bytes {
  if (typeof s !== 'string') throw new LinkError('tampered', `${what} is missing from the server's answer`);
  try {
    return fromBase64(s);
  } catch (err) {
    throw tampered(err, what);
  }
}

function modTime(ns: bigint): Date | undefined {
  return ns === 0n ? undefined : new Date(Number(ns / 1_000_000n));
}

interface FileState {
  record: NodeRecord;
  keys: NodeKeys;
  head: RevisionRecord;
}

interface FolderState {
  node: Bytes;
  keys: NodeKeys;
  listing?: Promise<Listing>;
}

/** An opened link: the server's session, the payload, and what verified so far. */
class Session {
  private readonly files = new Map<string, FileState>();
  private readonly folders = new Map<string, FolderState>();
  private pool?: BlockPool;

  constructor(
    private readonly api: LinkAPI,
    private readonly id: Bytes,
    private readonly keys: LinkKeys,
    private readonly payload: LinkPayload,
    private readonly volume: Bytes,
    private readonly node: Bytes,
  ) {}

  /** Read links, check 1 (§13.13): the linked node itself, signed by the payload's owner, not rolled back. */
  async openRoot(): Promise<FileLink | FolderLink> {
    const nodeID = toBase64Url(this.node);
    const n = await this.api.json<WireNode>('GET', `/nodes/${nodeID}`, { purpose: 'read' });
    try {
      const { record, signature } = nodeRecordFromWire(n);
      if (!bytesEqual(record.node, this.node) || !bytesEqual(record.volume, this.volume)) throw new BadRecordError('the server presents another item');
      if (isDrop(record)) throw new BadRecordError('an inbox upload cannot be linked');
      verifyLinkRoot(this.payload, this.volume, this.node, record, signature);
      const keys = await NodeKeys.derive(this.payload.nodeKey!);
      const read = (f: FileEntry, o?: ReadOptions) => this.read(f, o);
      if (record.kind === KIND_FILE) {
        const file = await this.fileEntry(record, keys, n.head, this.payload.name);
        return { kind: 'file', file, read };
      }
      if (record.kind !== KIND_FOLDER) throw new BadRecordError(`unknown node kind ${record.kind}`);
      this.folders.set(nodeID, { node: record.node as Bytes, keys });
      const root: FolderEntry = { type: 'folder', id: nodeID, name: this.payload.name };
      return { kind: 'folder', root, list: (f) => this.list(f), read };
    } catch (err) {
      throw tampered(err, 'the linked item');
    }
  }

  /** A verified file record and its head (check 3): the attributes give its size and time. */
  private async fileEntry(record: NodeRecord, keys: NodeKeys, wireHead: unknown, name: string): Promise<FileEntry> {
    if (!wireHead || typeof wireHead !== 'object') throw new BadRecordError('a file without content');
    const { record: head } = revisionRecordFromWire(wireHead as WireRevision);
    checkLinkHead(this.payload, record, head);
    // Opens the content key and the attributes, and checks the manifest.
    const reader = await RevisionReader.open(keys, record, head);
    const id = toBase64Url(record.node);
    this.files.set(id, { record, keys, head });
    const e: FileEntry = { type: 'file', id, name, size: reader.size };
    const mtime = modTime(reader.attrs.modTime);
    if (mtime) e.mtime = mtime;
    return e;
  }

  /** A folder's children, each checked as §13.13 check 2 says; what does not verify is left out and counted. */
  list(folder: FolderEntry): Promise<Listing> {
    const st = this.folders.get(folder.id);
    if (!st) return Promise.reject(new LinkError('server', 'a folder this page did not list'));
    st.listing ??= this.fetchListing(folder.id, st);
    // A failed listing may be retried (it is not kept).
    st.listing.catch(() => {
      st.listing = undefined;
    });
    return st.listing;
  }

  private async fetchListing(folderID: string, st: FolderState): Promise<Listing> {
    const res = await this.api.json<{ nodes?: WireNode[] | null }>('GET', `/nodes/${folderID}/children`, { purpose: 'read' });
    const entries: Entry[] = [];
    const seen = new Set<string>();
    const names = new Set<string>();
    let leftOut = 0;
    for (const n of res.nodes ?? []) {
      try {
        const { record, signature } = nodeRecordFromWire(n);
        const id = toBase64Url(record.node);
        if (seen.has(id)) throw new BadRecordError('listed twice');
        seen.add(id);
        // Uploads waiting in an inbox folder are not part of what the link gives.
        if (isDrop(record) && bytesEqual(record.parent, st.node) && bytesEqual(record.volume, this.volume)) continue;
        verifyLinkChild(this.payload, { volume: this.volume, node: st.node }, record, signature);
        const name = await openRecordName(st.keys, record);
        // Names are unique per folder (the server keeps the name hashes
        // unique, and each hash was checked against its name): two of
        // one name are the server's doing, as the Go client says too.
        if (names.has(name)) throw new LinkError('tampered', `two entries named “${name}” in one folder`);
        names.add(name);
        const key = await unwrapNodeKey(st.keys, recordRef(record), record.sealedKey);
        let keys: NodeKeys;
        try {
          keys = await NodeKeys.derive(key);
        } finally {
          wipe(key);
        }
        if (record.kind === KIND_FILE) {
          entries.push(await this.fileEntry(record, keys, n.head, name));
        } else {
          this.folders.set(id, { node: record.node as Bytes, keys });
          entries.push({ type: 'folder', id, name });
        }
      } catch (err) {
        if (err instanceof LinkError) throw err;
        leftOut++;
      }
    }
    return { entries, leftOut };
  }

  /**
   * A file's plaintext, fetched, checked and decrypted block by block as it
   * is read. Up to BLOCKS_AHEAD blocks are fetched, checked against the
   * manifest and opened at once, by the block workers; the page hashes
   * their plaintexts in order as it hands them over, and hands over the
   * last block only after the whole file's SHA-256 matched its attributes.
   */
  read(file: FileEntry, o?: ReadOptions): ReadableStream<Uint8Array> {
    const st = this.files.get(file.id);
    const ctl = new AbortController();
    const outer = o?.signal;
    const onAbort = () => ctl.abort(outer?.reason);
    outer?.addEventListener('abort', onAbort, { once: true });
    let reader: RevisionReader | undefined;
    let opener: BlockOpenerParams | undefined;
    let next = 0;
    // Jobs of blocks next, next + 1, ..., in order.
    const ahead: Promise<Bytes>[] = [];
    const start = (i: number): Promise<Bytes> => {
      const p = this.blockPool().run(
        {
          url: this.api.url(`/blocks/${reader!.blockIDHex(i)}?node=${file.id}`),
          token: this.api.token ?? '',
          opener: opener!,
          index: i,
          id: reader!.blockID(i),
        },
        ctl.signal,
      );
      p.catch(() => {});
      return p;
    };
    const stop = () => {
      outer?.removeEventListener('abort', onAbort);
      ctl.abort();
    };
    return new ReadableStream<Uint8Array>(
      {
        pull: async (c) => {
          try {
            if (!st) throw new LinkError('server', 'a file this page did not list');
            if (ctl.signal.aborted) throw ctl.signal.reason;
            if (!reader) {
              reader = await RevisionReader.open(st.keys, st.record, st.head);
              opener = reader.opener.params;
            }
            const n = reader.blockCount;
            if (next >= n) {
              reader.finish();
              stop();
              c.close();
              return;
            }
            while (ahead.length < BLOCKS_AHEAD && next + ahead.length < n) ahead.push(start(next + ahead.length));
            // The plaintext's buffer came from a worker and is used by
            // nobody else once hashed: saving may transfer it (handOver).
            const pt = handOver(await ahead.shift()!);
            reader.addBlock(next, [pt]);
            next++;
            if (next === n) {
              reader.finish();
              stop();
              c.enqueue(pt);
              c.close();
            } else {
              c.enqueue(pt);
            }
          } catch (err) {
            const aborted = ctl.signal.aborted;
            stop();
            c.error(aborted ? (outer?.reason ?? err) : tampered(err, `“${file.name}”`));
          }
        },
        cancel: () => stop(),
      },
      { highWaterMark: 0 },
    );
  }

  /** The block workers, started on the first download. */
  private blockPool(): BlockPool {
    this.pool ??= new BlockPool(BLOCK_WORKERS, jobError);
    return this.pool;
  }

  /** Upload links (§13.13, §13.9 steps 2 to 5): one file, sealed to the payload's inbox key and signed with the link's key. */
  async upload(file: File, onProgress: (bytesDone: number) => void, signal?: AbortSignal): Promise<void> {
    try {
      let d;
      try {
        d = await prepareLinkDrop(this.payload, this.volume, this.node, file.name);
      } catch (err) {
        if (err instanceof BadNameError) throw new LinkError('upload-refused', err.message, { detail: `The name “${file.name}” cannot be used for a file.` });
        throw err;
      }
      const w = await RevisionWriter.create({
        fileKeys: d.fileKeys,
        volume: this.volume,
        node: d.node,
        seq: 1,
        author: linkAuthor(this.id),
        size: file.size,
        modTime: BigInt(Math.trunc(file.lastModified)) * 1_000_000n,
      });
      wipe(d.nodeKey);
      let done = 0;
      const puts: Promise<void>[] = [];
      for (let i = 0; i < w.blockCount; i++) {
        signal?.throwIfAborted();
        const start = i * BLOCK_SIZE;
        const end = Math.min(file.size, start + BLOCK_SIZE);
        const plain = new Uint8Array(await file.slice(start, end).arrayBuffer());
        if (plain.length !== end - start) throw new LinkError('upload-refused', 'short read', { detail: 'The file changed or could not be read.' });
        const { block, id } = await w.sealBlock(i, plain);
        while (puts.length >= UPLOADS_AT_ONCE) await puts.shift();
        const p = this.api.request('PUT', `/blocks/${toHex(id)}`, { body: block, signal, purpose: 'upload' }).then(() => {
          done += end - start;
          onProgress(done);
        });
        p.catch(() => {});
        puts.push(p);
      }
      for (const p of puts) await p;
      signal?.throwIfAborted();
      const rev = await w.finish();
      await this.api.request('POST', '/drops', { json: finishLinkDrop(this.keys, d, rev), signal, purpose: 'upload' });
      onProgress(file.size);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof LinkError) throw err;
      throw new LinkError('server', `upload: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}

/**
 * The data layer for the link at url (the page's own address: origin, path
 * /s/<id> and the fragment). Throws LinkError 'bad-url' if it is not a
 * link URL.
 */
export function createLinkBackend(url: string): LinkBackend {
  let parsed: LinkURL;
  try {
    parsed = parseLinkURL(url);
  } catch (err) {
    throw new LinkError('bad-url', err instanceof Error ? err.message : String(err), { cause: err });
  }
  const { base, id } = parsed;
  const api = new LinkAPI(base, `/v1/links/${toBase64Url(id)}`);
  let info: WireLinkInfo | undefined;

  const probe = async (): Promise<WireLinkInfo> => {
    const i = await api.json<WireLinkInfo>('GET', '', { purpose: 'open' });
    if (i.kind !== LINK_READ && i.kind !== LINK_UPLOAD) {
      throw new LinkError('unsupported', `link kind ${i.kind}`, { detail: 'This link is of a kind this page does not know. Try a newer version of the page.' });
    }
    info = i;
    return i;
  };

  return {
    async probe(): Promise<LinkInfo> {
      const i = await probe();
      return { passwordRequired: i.password };
    },

    async unlock(password: string): Promise<OpenLink> {
      const i = info ?? (await probe());
      const pw = i.password ? password : '';
      if (i.password && pw === '') throw new LinkError('wrong-password', 'no password given');
      if (utf8(pw.normalize('NFC')).length > MAX_LINK_PASSWORD_LEN) throw new LinkError('wrong-password', 'password too long');

      // LinkLogin checks the info against the URL and the KDF parameters
      // against the floor and ceiling before Argon2id runs; then the
      // server's SRP values, its proof M2, and the payload (crypto.md 13.13).
      let login: LinkLogin;
      try {
        login = await LinkLogin.start(parsed, i, pw);
      } catch (err) {
        throw tampered(err, 'the link info');
      }
      let opened: OpenedLink;
      try {
        const start = await api.json<WireLoginStart>('POST', '/login/start', { json: { a: toBase64(login.A) }, purpose: 'open' });
        let m1: Bytes;
        try {
          m1 = login.finish(b64(start.b, 'SRP B'));
        } catch (err) {
          throw tampered(err, 'SRP');
        }
        const fin = await api.json<WireLinkLoginFinish>('POST', '/login/finish', {
          json: { handshake_id: start.handshake_id, m1: toBase64(m1) },
          purpose: 'open',
        });
        try {
          opened = await login.complete(fin);
        } catch (err) {
          if (err instanceof SRPBadProofError) throw new LinkError('tampered', 'the server failed to prove it knows the link (M2)', { cause: err });
          throw tampered(err, 'the link payload (tampered, or another link’s or item’s)');
        }
      } catch (err) {
        login.wipe();
        throw err;
      }
      const { payload, volume, node, kind, token } = opened;
      if (typeof token !== 'string' || token === '') throw new LinkError('server', 'no link session in the answer');
      api.token = token;
      const s = new Session(api, id, opened.keys, payload, volume, node);

      if (kind === LINK_UPLOAD) {
        const limits: UploadLink['limits'] = {};
        if ((i.max_files ?? 0) > 0) limits.maxFiles = Math.max(0, i.max_files! - (i.files ?? 0));
        if ((i.max_bytes ?? 0) > 0) limits.maxBytes = Math.max(0, i.max_bytes! - (i.bytes ?? 0));
        return { kind: 'upload', limits, upload: (f, p, sig) => s.upload(f, p, sig) };
      }
      return s.openRoot();
    },
  };
}
