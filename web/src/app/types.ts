/**
 * The interface between the link page's UI and its data layer.
 *
 * The UI (app.tsx and its components) knows nothing of the API or of the
 * cryptography: everything it shows comes through a {@link LinkBackend},
 * which talks to the server and verifies and decrypts everything before
 * handing it over. linkclient.ts is the real one; stub.ts is a fake for
 * working on the UI (only in `vite --mode demo` builds).
 */

/** Why a link cannot be opened, or an operation failed. Each code has its own words in errors.ts. */
export type LinkErrorCode =
  | 'bad-url' // no secret in the fragment, or a malformed link ID or secret
  | 'not-found' // no such link (or never existed)
  | 'expired' // the link's expiry time has passed
  | 'revoked' // the owner removed the link
  | 'gone' // the shared item was deleted (or is in the owner's trash)
  | 'limit-reached' // the maximum number of downloads was used up
  | 'wrong-password' // the password (with the secret) did not pass the server's SRP check
  | 'rate-limited' // too many wrong passwords: wait (retryAfter seconds if known)
  | 'tampered' // something the server sent does not verify: nothing from it is shown
  | 'upload-refused' // an upload over the owner's size or count limits, or refused by the server
  | 'unsupported' // the browser lacks something the page needs
  | 'network' // the server could not be reached
  | 'session-ended' // the link session (an hour) ended: reload the page
  | 'interrupted' // (set by the UI) a download or upload stopped: cancelled, or the browser could not save it
  | 'server'; // any other server failure

/**
 * An error the UI can show in words. `message` is technical (shown small,
 * for a bug report); `detail`, when set, replaces the code's standard
 * sentence. Neither ever contains a secret.
 */
export class LinkError extends Error {
  readonly code: LinkErrorCode;
  /** Seconds to wait before trying again, when the server said so. */
  readonly retryAfter?: number;
  /** Words for the user that replace the code's standard sentence. */
  readonly detail?: string;
  constructor(code: LinkErrorCode, message?: string, options?: { cause?: unknown; retryAfter?: number; detail?: string }) {
    super(message ?? code, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'LinkError';
    this.code = code;
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter;
    if (options?.detail !== undefined) this.detail = options.detail;
  }
}

/** What the page learns before the password: enough to know what to ask. */
export interface LinkInfo {
  /** The owner set a password: the page asks for it before unlock. */
  passwordRequired: boolean;
}

/** A file, as verified and decrypted by the data layer. */
export interface FileEntry {
  type: 'file';
  /** An opaque ID, unique within the link (the node ID). */
  id: string;
  /** The decrypted, verified name (one path component, no '/'). */
  name: string;
  /** The plaintext size in bytes, from the verified attributes. */
  size: number;
  /** The modification time from the verified attributes, if any. */
  mtime?: Date;
}

/** A folder, as verified and decrypted by the data layer. */
export interface FolderEntry {
  type: 'folder';
  id: string;
  name: string;
  mtime?: Date;
}

export type Entry = FileEntry | FolderEntry;

export interface ReadOptions {
  /** Aborting cancels the download: the stream errors and fetching stops. */
  signal?: AbortSignal;
}

/**
 * A download link opened on a single file.
 *
 * read() returns at once a stream that fetches, verifies and decrypts the
 * blocks as it is read (nothing is fetched before the first read, and
 * memory stays at a few blocks whatever the size). It errors with a
 * LinkError ('tampered', 'limit-reached', 'revoked', 'network', ...) as
 * soon as something fails, never handing over unverified bytes: a block
 * that does not open stops the stream before any of its bytes.
 */
export interface FileLink {
  kind: 'file';
  file: FileEntry;
  read(file: FileEntry, options?: ReadOptions): ReadableStream<Uint8Array>;
}

/** A folder's verified children. */
export interface Listing {
  entries: Entry[];
  /**
   * How many records the server listed that did not verify (not signed by
   * the owner, not in this folder, a name or key that does not open): they
   * are left out, and the page says so. Uploads waiting in an inbox are
   * left out without counting here.
   */
  leftOut: number;
}

/** A download link opened on a folder. */
export interface FolderLink {
  kind: 'folder';
  root: FolderEntry;
  /** The children of a folder of this link (the root or one below it), verified and decrypted. */
  list(folder: FolderEntry): Promise<Listing>;
  read(file: FileEntry, options?: ReadOptions): ReadableStream<Uint8Array>;
}

/** What is left of an upload-only link's limits, set by its owner (absent: no limit beyond the server's). */
export interface UploadLimits {
  /** Files that may still be added. */
  maxFiles?: number;
  /** Bytes that may still be added, all files together. */
  maxBytes?: number;
}

/** An upload-only link (a file request): the page can add files and see nothing. */
export interface UploadLink {
  kind: 'upload';
  limits: UploadLimits;
  /**
   * Seals file in the page (to the folder's inbox key) and uploads it.
   * onProgress is called with the plaintext bytes sealed and sent so far.
   * Rejects with a LinkError; aborting the signal stops the upload.
   */
  upload(file: File, onProgress: (bytesDone: number) => void, signal?: AbortSignal): Promise<void>;
}

export type OpenLink = FileLink | FolderLink | UploadLink;

/** The data layer for one link (one link ID and secret, taken from the page's URL). */
export interface LinkBackend {
  /** Asks the server about the link: rejects with a LinkError if it is gone (expired, revoked, ...). */
  probe(): Promise<LinkInfo>;
  /**
   * Proves secret + password to the server (SRP), derives the link key and
   * opens the link. password is '' when none is required. Rejects with a
   * LinkError: 'wrong-password' lets the page ask again.
   */
  unlock(password: string): Promise<OpenLink>;
}
