/**
 * Public links (crypto.md §13.13).
 *
 *   URL       = https://HOST/s/ || b64url(link_id) || # || b64url(secret)
 *   pw        = Argon2id(secret || NFC(password), salt, t, m, p, 32)
 *   srp_x     = HKDF(pw, tagged("coffer/v1/link-srp-x", link_id), 32)
 *   link_key  = HKDF(pw, tagged("coffer/v1/link-key",   link_id), 32)
 *   sign_seed = HKDF(pw, tagged("coffer/v1/link-sign",  link_id), 32)
 *   payload   = envelope under link_key,
 *               AD = tagged("coffer/v1/link-payload", LP(link_id) || LP(volume) || LP(node) || u8(kind))
 *   owner rec = envelope under self_key = HKDF(encryption_seed, tagged("coffer/v1/self-key", user)),
 *               AD = tagged("coffer/v1/link-owner", same fields)
 *
 * The SRP identity of a link and the author of its anonymous uploads is
 * LinkAuthor(link_id) = "link:" || b64url(link_id).
 */

import {
  bytesEqual,
  concat,
  copyBytes,
  fromBase64Url,
  isAllZero,
  lp,
  lps,
  randomBytes,
  Reader,
  tagged,
  toBase64Url,
  u64,
  u8,
  utf8,
  wipe,
  type Bytes,
} from './bytes.ts';
import { checkEd25519PublicKey, ed25519PublicKey, ed25519Sign } from './ed25519.ts';
import { hkdfLabel, openEnvelope, sealEnvelope } from './envelope.ts';
import { BadLinkError, BadRecordError, BadSignatureError, CofferCryptoError, DecryptError } from './errors.ts';
import { isXWingPublicKey, XWING_PUBLIC_KEY_SIZE } from './hpke.ts';
import { argon2id, isWellFormedString, type KDFParams } from './kdf.ts';
import {
  LABEL_LINK_KEY,
  LABEL_LINK_OWNER,
  LABEL_LINK_PAYLOAD,
  LABEL_LINK_SIGN,
  LABEL_LINK_SRP_X,
  LABEL_NODE_RECORD,
  LABEL_REVISION,
  LABEL_SELF_KEY,
} from './labels.ts';
import { namePlaintext, normalizeName, parseNamePlaintext } from './names.ts';
import { checkAuthor, isDrop, MAX_AUTHOR_LEN, marshalNodeRecord, verifyNodeRecord, type NodeRecord } from './record.ts';
import { marshalRevisionRecord, matchesHead, type RevisionRecord } from './revision.ts';
import { srpVerifier } from './srp.ts';

export const LINK_ID_SIZE = 16;
export const LINK_SECRET_SIZE = 32;
/** The longest link password, in UTF-8 bytes after NFC. */
export const MAX_LINK_PASSWORD_LEN = 1024;
/** Read access to a file or a folder's subtree. */
export const LINK_READ = 1;
/** Drop files into a folder (a file request). */
export const LINK_UPLOAD = 2;

const LINK_PAYLOAD_VERSION = 0x01;
const LINK_OWNER_VERSION = 0x01;
const LINK_AUTHOR_PREFIX = 'link:';

/** Decodes canonical unpadded base64url of exactly n bytes, or undefined. */
function decodeLinkPart(s: string, n: number): Bytes | undefined {
  if (s.length !== Math.ceil((n * 4) / 3)) return undefined;
  try {
    const b = fromBase64Url(s);
    return b.length === n ? b : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A fresh random 16-byte link ID whose base64url spelling does not begin
 * with '-', as the Go client draws them: `coffer link rm ID` would read
 * such an ID as a flag.
 */
export function newLinkID(): Bytes {
  for (;;) {
    const id = randomBytes(LINK_ID_SIZE);
    if (id[0] >> 2 !== 62) return id;
  }
}

/** A fresh random 32-byte link secret. */
export function newLinkSecret(): Bytes {
  return randomBytes(LINK_SECRET_SIZE);
}

/** LinkAuthor: "link:" || b64url(id), the link's SRP identity and the author of its uploads. */
export function linkAuthor(id: Uint8Array): string {
  return LINK_AUTHOR_PREFIX + toBase64Url(id);
}

/** ParseLinkAuthor: the link ID of a canonical "link:" author, or undefined. */
export function parseLinkAuthor(author: string): Bytes | undefined {
  if (!author.startsWith(LINK_AUTHOR_PREFIX)) return undefined;
  return decodeLinkPart(author.slice(LINK_AUTHOR_PREFIX.length), LINK_ID_SIZE);
}

/** True if s is an IPv6 address as Go's netip.ParseAddr reads one (no zone). */
function isIPv6(s: string): boolean {
  const ipv4 = (t: string) => {
    const parts = t.split('.');
    return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
  };
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const groups = (t: string): number | undefined => {
    if (t === '') return 0;
    const fs = t.split(':');
    let n = 0;
    for (let i = 0; i < fs.length; i++) {
      const f = fs[i]!;
      if (/^[0-9a-fA-F]{1,4}$/.test(f)) n += 1;
      else if (i === fs.length - 1 && ipv4(f)) n += 2;
      else return undefined;
    }
    return n;
  };
  if (halves.length === 1) return groups(s) === 8 && !s.startsWith(':') && !s.endsWith(':');
  const a = groups(halves[0]!);
  const b = groups(halves[1]!);
  if (a === undefined || b === undefined) return false;
  // An embedded IPv4 address may only end the address.
  if (halves[0]!.includes('.')) return false;
  return a + b < 8;
}

/** Checks a base "scheme://host[:port]" as Go's checkLinkBase; returns what is wrong, or undefined. */
function checkLinkBase(base: string): string | undefined {
  const i = base.indexOf('://');
  const scheme = i < 0 ? '' : base.slice(0, i);
  if (i < 0 || (scheme !== 'https' && scheme !== 'http')) return 'the scheme is not https:// or http://';
  const authority = base.slice(i + 3);
  if (authority === '') return 'no host';
  for (let j = 0; j < authority.length; j++) {
    const c = authority.charCodeAt(j);
    const ch = authority[j]!;
    if (/[a-zA-Z0-9\-.:[\]]/.test(ch)) continue;
    if (ch === '@') return "user info ('@') before the host is not allowed";
    if (ch === '/' || ch === '?' || ch === '#') return `the base has a "${ch}" after the host`;
    if (c >= 0x80) return 'the host is not ASCII (write an international name in its xn-- form)';
    return `the host has a character that is not allowed (byte ${j})`;
  }
  let host: string;
  let port: string | undefined;
  if (authority.startsWith('[')) {
    const m = /^\[([^\]]*)\](?::([0-9]*))?$/.exec(authority);
    if (!m) return 'the host does not parse';
    host = m[1]!;
    port = m[2];
  } else {
    const k = authority.indexOf(':');
    if (k >= 0) {
      if (!/^[0-9]*$/.test(authority.slice(k + 1))) return 'the host does not parse';
      host = authority.slice(0, k);
      port = authority.slice(k + 1);
    } else {
      host = authority;
    }
  }
  if (host === '') return 'the host does not parse';
  if (authority.endsWith(':')) return "an empty port after ':'";
  if (port !== undefined && port !== '') {
    const n = Number(port);
    if (!(n >= 1 && n <= 65535)) return 'the port is not 1 to 65535';
  }
  if (authority.startsWith('[') ? !isIPv6(host) : /[:[\]]/.test(host)) return 'the host is not a valid IPv6 literal';
  return undefined;
}

/**
 * FormatLinkURL: base || "/s/" || b64url(id) || "#" || b64url(secret).
 * base is the server's origin ("https://host", "http://host:port"; one
 * trailing '/' is dropped). Throws BadLinkError.
 */
export function formatLinkURL(base: string, id: Uint8Array, secret: Uint8Array): string {
  if (base.endsWith('/')) base = base.slice(0, -1);
  const why = checkLinkBase(base);
  if (why) throw new BadLinkError(`not a valid link URL: base: ${why}`);
  if (id.length !== LINK_ID_SIZE) throw new BadLinkError(`not a valid link URL: link ID is ${id.length} bytes, want ${LINK_ID_SIZE}`);
  if (secret.length !== LINK_SECRET_SIZE) throw new BadLinkError(`not a valid link URL: link secret is ${secret.length} bytes, want ${LINK_SECRET_SIZE}`);
  return `${base}/s/${toBase64Url(id)}#${toBase64Url(secret)}`;
}

/** A parsed link URL. */
export interface LinkURL {
  /** "scheme://host[:port]", the server's origin. */
  base: string;
  /** The 16-byte link ID. */
  id: Bytes;
  /** The 32-byte secret from the fragment (never send it anywhere). */
  secret: Bytes;
}

/**
 * ParseLinkURL, strict as crypto.md §13.13 and Go: scheme https or http
 * (lower case), an ASCII host with no user info and an optional port
 * 1..65535, the path "/s/" and 22 characters of canonical base64url (an
 * optional trailing '/'), no query, and a fragment of exactly 43
 * characters of canonical base64url. Throws BadLinkError naming what is
 * wrong, never the fragment.
 */
export function parseLinkURL(s: string): LinkURL {
  const fail = (why: string) => new BadLinkError(`not a valid link URL: ${why}`);
  const hash = s.indexOf('#');
  if (hash < 0) throw fail("no '#' and secret after it (was the link cut short?)");
  const rest = s.slice(0, hash);
  const frag = s.slice(hash + 1);
  const secret = decodeLinkPart(frag, LINK_SECRET_SIZE);
  if (!secret) {
    if (frag.length !== 43) throw fail(`the secret after '#' is ${utf8(frag).length} bytes long, want 43 characters`);
    throw fail("the secret after '#' is not canonical base64url");
  }
  if (rest.includes('?')) throw fail("it has a query ('?'); a link URL has none");
  const i = rest.indexOf('://');
  const scheme = i < 0 ? '' : rest.slice(0, i);
  if (i < 0 || (scheme !== 'https' && scheme !== 'http')) throw fail('the scheme is not https:// or http://');
  const hostAndPath = rest.slice(i + 3);
  const slash = hostAndPath.indexOf('/');
  if (slash < 0) throw fail('no path: want /s/ and the link ID');
  const base = `${scheme}://${hostAndPath.slice(0, slash)}`;
  const why = checkLinkBase(base);
  if (why) throw fail(why);
  const p = hostAndPath.slice(slash + 1);
  if (!p.startsWith('s/')) throw fail('the path is not /s/ and the link ID');
  let idPart = p.slice(2);
  if (idPart.endsWith('/')) idPart = idPart.slice(0, -1);
  const id = decodeLinkPart(idPart, LINK_ID_SIZE);
  if (!id) {
    if (idPart.length !== 22) throw fail(`the link ID after /s/ is ${utf8(idPart).length} bytes long, want 22 characters`);
    throw fail('the link ID after /s/ is not canonical base64url');
  }
  return { base, id, secret };
}

/** NFC(password) as UTF-8, after checking it is well formed and at most 1024 bytes. */
function linkPasswordBytes(password: string): Bytes {
  if (!isWellFormedString(password)) throw new CofferCryptoError('link password is not valid UTF-8');
  const b = utf8(password.normalize('NFC'));
  if (b.length > MAX_LINK_PASSWORD_LEN) {
    throw new CofferCryptoError(`link password is ${b.length} bytes after NFC, limit ${MAX_LINK_PASSWORD_LEN}`);
  }
  return b;
}

/** What a link's secret and password give (DeriveLinkKeys). */
export interface LinkKeys {
  /** The link ID the keys are bound to. */
  readonly id: Bytes;
  /** SRP private value x (32 bytes): SRPClient.finish(linkAuthor(id), salt, srpX, B). */
  readonly srpX: Bytes;
  /** link_key: opens the payload. */
  readonly linkKey: Bytes;
  /** sign_seed: the Ed25519 seed of the link's anonymous uploads. */
  readonly signSeed: Bytes;
  /** The Ed25519 public key of signSeed. */
  readonly signPublic: Bytes;
}

/**
 * DeriveLinkKeys: from the URL's secret, the password ("" for none) and
 * the link ID, under the salt and Argon2id parameters the server serves.
 * The parameters and salt are checked against the floor and ceiling of §3
 * before Argon2id runs (WeakKDFError, KDFTooCostlyError, CofferCryptoError).
 */
export async function deriveLinkKeys(secret: Uint8Array, password: string, id: Uint8Array, salt: Uint8Array, kdf: KDFParams): Promise<LinkKeys> {
  if (secret.length !== LINK_SECRET_SIZE) throw new CofferCryptoError(`derive link keys: secret is ${secret.length} bytes, want ${LINK_SECRET_SIZE}`);
  if (id.length !== LINK_ID_SIZE) throw new CofferCryptoError(`derive link keys: link ID is ${id.length} bytes, want ${LINK_ID_SIZE}`);
  const pwd = linkPasswordBytes(password);
  const input = concat(secret, pwd);
  wipe(pwd);
  let pw: Bytes;
  try {
    pw = await argon2id(input, salt, kdf);
  } finally {
    wipe(input);
  }
  try {
    return await linkKeysFromPW(pw, id);
  } finally {
    wipe(pw);
  }
}

/** The HKDF step of deriveLinkKeys, from the Argon2id output (for vectors). */
export async function linkKeysFromPW(pw: Uint8Array, id: Uint8Array): Promise<LinkKeys> {
  const [srpX, linkKey, signSeed] = await Promise.all([
    hkdfLabel(pw, LABEL_LINK_SRP_X, id),
    hkdfLabel(pw, LABEL_LINK_KEY, id),
    hkdfLabel(pw, LABEL_LINK_SIGN, id),
  ]);
  return { id: copyBytes(id), srpX, linkKey, signSeed, signPublic: ed25519PublicKey(signSeed) };
}

/** The link's SRP verifier v = g^x mod N, padded to 384 bytes (what the owner sends). */
export function linkVerifier(keys: LinkKeys): Bytes {
  return srpVerifier(keys.srpX);
}

/** Overwrites the secret parts of link keys (best effort). */
export function wipeLinkKeys(keys: LinkKeys): void {
  wipe(keys.srpX);
  wipe(keys.linkKey);
  wipe(keys.signSeed);
}

function checkLinkAuthor(keys: LinkKeys, author: string): void {
  if (author !== linkAuthor(keys.id)) throw new CofferCryptoError("author is not the link's (LinkAuthor of its ID)");
}

/**
 * SignLink for a node record: Ed25519-Sign(the link's key,
 * tagged("coffer/v1/node-record", Marshal())). r must be an inbox drop
 * whose author is linkAuthor(keys.id). Throws BadRecordError for a
 * malformed record.
 */
export function signLinkNodeRecord(r: NodeRecord, keys: LinkKeys): Bytes {
  const m = marshalNodeRecord(r);
  if (!isDrop(r)) throw new BadRecordError('sign node record with a link key: not an inbox drop');
  checkLinkAuthor(keys, r.author);
  return ed25519Sign(keys.signSeed, tagged(LABEL_NODE_RECORD, m));
}

/** SignLink for a revision record; r.author must be linkAuthor(keys.id). */
export function signLinkRevisionRecord(r: RevisionRecord, keys: LinkKeys): Bytes {
  const m = marshalRevisionRecord(r);
  checkLinkAuthor(keys, r.author);
  return ed25519Sign(keys.signSeed, tagged(LABEL_REVISION, m));
}

/** LP(link_id) || LP(volume) || LP(node) || u8(kind); undefined if an ID or the kind is wrong. */
function linkFields(id: Uint8Array, volume: Uint8Array, node: Uint8Array, kind: number): Bytes | undefined {
  if (id.length !== LINK_ID_SIZE || volume.length !== 16 || node.length !== 16) return undefined;
  if (kind !== LINK_READ && kind !== LINK_UPLOAD) return undefined;
  return concat(lps(id, volume, node), u8(kind));
}

/** What a link gives, sealed under link_key. */
export interface LinkPayload {
  /** LINK_READ or LINK_UPLOAD. */
  kind: number;
  /** The owner's account name. */
  owner: string;
  /** The owner's Ed25519 identity key: every record under a read link must verify under it. */
  ownerIdentity: Uint8Array;
  /** The linked node record's version when the link was made; refuse an older record. */
  minVersion: bigint;
  /** Read links: the linked node's key (32 bytes). Absent for upload links. */
  nodeKey?: Uint8Array;
  /** Upload links: the link's X-Wing inbox public key (1216 bytes). Absent for read links. */
  inboxPublic?: Uint8Array;
  /** The linked node's name, NFC. */
  name: string;
}

/**
 * SealLinkPayload (the owner's side; nonce only for vectors). Refuses what
 * openLinkPayload would refuse.
 */
export async function sealLinkPayload(
  keys: LinkKeys,
  id: Uint8Array,
  volume: Uint8Array,
  node: Uint8Array,
  p: LinkPayload,
  nonce?: Uint8Array,
): Promise<Bytes> {
  if (!bytesEqual(keys.id, id)) throw new CofferCryptoError("seal link payload: the keys are not this link's");
  const fields = linkFields(id, volume, node, p.kind);
  if (!fields) throw new CofferCryptoError('seal link payload: bad link ID, volume, node or kind');
  checkAuthor(p.owner);
  checkEd25519PublicKey(p.ownerIdentity);
  let nodeKey: Uint8Array = new Uint8Array(0);
  let inbox: Uint8Array = new Uint8Array(0);
  if (p.kind === LINK_READ) {
    if (!p.nodeKey || p.nodeKey.length !== 32 || isAllZero(p.nodeKey)) throw new CofferCryptoError('a read link needs the node key');
    if (p.inboxPublic && p.inboxPublic.length) throw new CofferCryptoError('a read link has no inbox key');
    nodeKey = p.nodeKey;
  } else {
    if (p.nodeKey && !isAllZero(p.nodeKey)) throw new CofferCryptoError('an upload link carries no node key');
    if (!p.inboxPublic || !(await isXWingPublicKey(p.inboxPublic))) throw new CofferCryptoError('an upload link needs an X-Wing inbox public key');
    inbox = p.inboxPublic;
  }
  const pt = concat(
    u8(LINK_PAYLOAD_VERSION),
    u8(p.kind),
    lp(p.owner),
    p.ownerIdentity,
    u64(p.minVersion),
    lp(nodeKey),
    lp(inbox),
    namePlaintext(normalizeName(p.name)),
  );
  try {
    return await sealEnvelope(keys.linkKey, LABEL_LINK_PAYLOAD, fields, pt, nonce);
  } finally {
    wipe(pt);
  }
}

/**
 * OpenLinkPayload: opens the payload the server released after M1, for
 * the link ID of the URL and the volume, node and kind the server names,
 * and checks it (§13.13). Every failure is DecryptError.
 */
export async function openLinkPayload(
  keys: LinkKeys,
  id: Uint8Array,
  volume: Uint8Array,
  node: Uint8Array,
  kind: number,
  sealed: Uint8Array,
): Promise<LinkPayload> {
  const fields = linkFields(id, volume, node, kind);
  if (!fields || !bytesEqual(keys.id, id)) throw new DecryptError();
  const pt = await openEnvelope(keys.linkKey, LABEL_LINK_PAYLOAD, fields, sealed);
  try {
    const r = new Reader(pt);
    const v = r.u8();
    const k = r.u8();
    const owner = r.lp();
    const identity = r.bytes(32);
    const minVersion = r.u64();
    const nodeKey = r.lp();
    const inbox = r.lp();
    if (v !== LINK_PAYLOAD_VERSION || k !== kind || !owner || !identity || minVersion === undefined || !nodeKey || !inbox) throw new DecryptError();
    if (owner.length === 0 || owner.length > MAX_AUTHOR_LEN) throw new DecryptError();
    let ownerName: string;
    try {
      ownerName = new TextDecoder('utf-8', { fatal: true }).decode(owner);
      checkEd25519PublicKey(identity);
    } catch {
      throw new DecryptError();
    }
    const p: LinkPayload = { kind, owner: ownerName, ownerIdentity: copyBytes(identity), minVersion, name: '' };
    if (kind === LINK_READ) {
      if (nodeKey.length !== 32 || inbox.length !== 0 || isAllZero(nodeKey)) throw new DecryptError();
      p.nodeKey = copyBytes(nodeKey);
    } else {
      if (nodeKey.length !== 0 || inbox.length !== XWING_PUBLIC_KEY_SIZE || !(await isXWingPublicKey(inbox))) throw new DecryptError();
      p.inboxPublic = copyBytes(inbox);
    }
    try {
      // parseNamePlaintext requires the exact padded length: nothing may follow.
      p.name = parseNamePlaintext(r.bytes(r.remaining)!);
    } catch {
      wipe(p.nodeKey);
      throw new DecryptError();
    }
    return p;
  } finally {
    wipe(pt);
  }
}

/** SelfKey: HKDF(encryption_seed, tagged("coffer/v1/self-key", user), 32), the key of records only the account reads. */
export async function selfKey(encryptionSeed: Uint8Array, user: string): Promise<Bytes> {
  if (encryptionSeed.length !== 32) throw new CofferCryptoError('self key: encryption seed must be 32 bytes');
  checkAuthor(user);
  return hkdfLabel(encryptionSeed, LABEL_SELF_KEY, utf8(user));
}

/** What the owner's client keeps of a link it made. */
export interface LinkOwnerRecord {
  secret: Uint8Array;
  /** NFC, "" for none. */
  password: string;
  /** Upload links: the Ed25519 public key of sign_seed; empty for read links. */
  signPublic: Uint8Array;
  /** Upload links: the 32-byte inbox seed; empty for read links. */
  inboxSeed: Uint8Array;
}

function linkOwnerKeysOK(kind: number, signPublic: Uint8Array, inboxSeed: Uint8Array): boolean {
  if (kind === LINK_READ) return signPublic.length === 0 && inboxSeed.length === 0;
  try {
    checkEd25519PublicKey(signPublic);
  } catch {
    return false;
  }
  return inboxSeed.length === 32;
}

/** SealLinkOwnerRecord (the owner's side; nonce only for vectors). */
export async function sealLinkOwnerRecord(
  self: Uint8Array,
  id: Uint8Array,
  volume: Uint8Array,
  node: Uint8Array,
  kind: number,
  rec: LinkOwnerRecord,
  nonce?: Uint8Array,
): Promise<Bytes> {
  const fields = linkFields(id, volume, node, kind);
  if (!fields) throw new CofferCryptoError('seal link owner record: bad link ID, volume, node or kind');
  if (rec.secret.length !== LINK_SECRET_SIZE) throw new CofferCryptoError('seal link owner record: secret must be 32 bytes');
  const pwd = linkPasswordBytes(rec.password);
  if (!linkOwnerKeysOK(kind, rec.signPublic, rec.inboxSeed)) throw new CofferCryptoError('seal link owner record: signing key or inbox seed wrong for the kind');
  const pt = concat(u8(LINK_OWNER_VERSION), rec.secret, lp(pwd), lp(rec.signPublic), lp(rec.inboxSeed));
  try {
    return await sealEnvelope(self, LABEL_LINK_OWNER, fields, pt, nonce);
  } finally {
    wipe(pt);
    wipe(pwd);
  }
}

/** OpenLinkOwnerRecord: every failure is DecryptError. */
export async function openLinkOwnerRecord(
  self: Uint8Array,
  id: Uint8Array,
  volume: Uint8Array,
  node: Uint8Array,
  kind: number,
  sealed: Uint8Array,
): Promise<LinkOwnerRecord> {
  const fields = linkFields(id, volume, node, kind);
  if (!fields) throw new DecryptError();
  const pt = await openEnvelope(self, LABEL_LINK_OWNER, fields, sealed);
  try {
    const r = new Reader(pt);
    const v = r.u8();
    const secret = r.bytes(LINK_SECRET_SIZE);
    const password = r.lp();
    const signPublic = r.lp();
    const inboxSeed = r.lp();
    if (v !== LINK_OWNER_VERSION || !secret || !password || !signPublic || !inboxSeed || !r.empty) throw new DecryptError();
    if (password.length > MAX_LINK_PASSWORD_LEN) throw new DecryptError();
    let pwd: string;
    try {
      pwd = new TextDecoder('utf-8', { fatal: true }).decode(password);
    } catch {
      throw new DecryptError();
    }
    if (pwd.normalize('NFC') !== pwd || !linkOwnerKeysOK(kind, signPublic, inboxSeed)) throw new DecryptError();
    return { secret: copyBytes(secret), password: pwd, signPublic: copyBytes(signPublic), inboxSeed: copyBytes(inboxSeed) };
  } finally {
    wipe(pt);
  }
}

/**
 * Read links, check 1 (§13.13): the linked node's own record has the
 * payload's volume and node (as the server named them at login), is signed
 * by the payload's owner under ownerIdentity, and is not older than
 * minVersion. Its name is payload.name and its key payload.nodeKey.
 * Throws BadRecordError or BadSignatureError.
 */
export function verifyLinkRoot(p: LinkPayload, volume: Uint8Array, node: Uint8Array, r: NodeRecord, signature: Uint8Array): void {
  if (!bytesEqual(r.volume, volume) || !bytesEqual(r.node, node)) throw new BadRecordError('link: the record is not the linked node');
  if (r.author !== p.owner) throw new BadSignatureError("link: the linked node's record is not signed by the link's owner");
  verifyNodeRecord(r, p.ownerIdentity, signature);
  if (BigInt(r.version) < p.minVersion) throw new BadRecordError('link: the linked node\'s record is older than the link (rolled back)');
}

/**
 * Read links, check 2: a record listed below a verified folder of the
 * link is in that folder (volume and parent), is not an inbox drop, and is
 * signed by the payload's owner under ownerIdentity. Then open its name
 * with openRecordName and its key with unwrapNodeKey under the folder's
 * keys. Throws BadRecordError or BadSignatureError.
 */
export function verifyLinkChild(p: LinkPayload, folder: { volume: Uint8Array; node: Uint8Array }, r: NodeRecord, signature: Uint8Array): void {
  if (!bytesEqual(r.volume, folder.volume) || !bytesEqual(r.parent, folder.node)) throw new BadRecordError('link: the record is not in the folder listed');
  if (isDrop(r)) throw new BadRecordError('link: an inbox drop is not shown under a read link');
  if (r.author !== p.owner) throw new BadSignatureError(`link: the record is signed by ${JSON.stringify(r.author)}, not by the link's owner`);
  verifyNodeRecord(r, p.ownerIdentity, signature);
}

/**
 * Read links, check 3: a verified file record's head revision is the one
 * it names (matchesHead) and was written by the owner. Throws
 * BadRecordError or BadSignatureError.
 */
export function checkLinkHead(p: LinkPayload, file: NodeRecord, head: RevisionRecord): void {
  matchesHead(head, file);
  if (head.author !== p.owner) throw new BadSignatureError("link: the file's head revision was not written by the link's owner");
}
