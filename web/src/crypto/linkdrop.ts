/**
 * Uploading one file through an upload link (crypto.md §13.13 "Upload
 * links", §13.9 "Uploading" steps 2 to 5):
 *
 *   const d = await prepareLinkDrop(payload, volume, folder, file.name);
 *   const w = await RevisionWriter.create({ fileKeys: d.fileKeys, volume, node: d.node,
 *               seq: 1, author: linkAuthor(keys.id), size: file.size, modTime });
 *   for each block i: const { block, id } = await w.sealBlock(i, bytes); PUT it
 *   const rev = await w.finish();
 *   const body = finishLinkDrop(keys, d, rev);   // POST /v1/links/{id}/drops
 *
 * volume and folder are those the server named at login, which the
 * payload's AD authenticated; inboxPublic comes from the payload only.
 */

import { type Bytes } from './bytes.ts';
import { CofferCryptoError } from './errors.ts';
import { newDropRecord, sealInboxDrop } from './inbox.ts';
import { LINK_UPLOAD, linkAuthor, signLinkNodeRecord, signLinkRevisionRecord, type LinkKeys, type LinkPayload } from './link.ts';
import { normalizeName } from './names.ts';
import { nodeRecordToWire, type WireNode } from './record.ts';
import { revisionDigest, revisionRecordToWire, type RevisionRecord, type WireRevision } from './revision.ts';
import { newID, newNodeKey, NodeKeys } from './tree.ts';

/** A new file's identity, key and sealed drop, before its content is written. */
export interface PreparedDrop {
  volume: Bytes;
  /** The folder T (the linked node). */
  parent: Bytes;
  /** The new file's node ID. */
  node: Bytes;
  /** The new file's node key (made here: the uploader creates the file). */
  nodeKey: Bytes;
  /** Its sub-keys, for RevisionWriter. */
  fileKeys: NodeKeys;
  /** The node key and NFC name sealed to the link's inbox key. */
  sealedDrop: Bytes;
  /** The NFC name. */
  name: string;
}

/**
 * Makes a new file's ID and node key and seals them with its name to the
 * payload's inbox key. Throws BadNameError for a name that cannot be a
 * node name, CofferCryptoError if the payload is not an upload link's.
 */
export async function prepareLinkDrop(payload: LinkPayload, volume: Uint8Array, folder: Uint8Array, name: string): Promise<PreparedDrop> {
  if (payload.kind !== LINK_UPLOAD || !payload.inboxPublic) throw new CofferCryptoError('not an upload link');
  const nfc = normalizeName(name);
  const node = newID();
  const nodeKey = newNodeKey();
  const ref = { volume: Uint8Array.from(volume), parent: Uint8Array.from(folder), node };
  const sealedDrop = await sealInboxDrop(payload.inboxPublic, ref, nodeKey, nfc);
  return { ...ref, nodeKey, fileKeys: await NodeKeys.derive(nodeKey), sealedDrop, name: nfc };
}

/**
 * Signs the drop record (version 1, random name hash, the revision as its
 * head) and the revision with the link's key, and returns the body of
 * POST /v1/links/{id}/drops: {"node", "revision"}. The revision's author
 * must be linkAuthor(keys.id).
 */
export function finishLinkDrop(keys: LinkKeys, d: PreparedDrop, rev: RevisionRecord): { node: WireNode; revision: WireRevision } {
  const author = linkAuthor(keys.id);
  if (rev.author !== author) throw new CofferCryptoError("the revision's author is not the link's");
  if (BigInt(rev.seq) !== 1n) throw new CofferCryptoError("a drop's first revision has seq 1");
  const revSig = signLinkRevisionRecord(rev, keys);
  const rec = newDropRecord({
    volume: d.volume,
    parent: d.parent,
    node: d.node,
    sealedDrop: d.sealedDrop,
    author,
    revision: rev.revision,
    revisionDigest: revisionDigest(rev),
  });
  const nodeSig = signLinkNodeRecord(rec, keys);
  return { node: nodeRecordToWire(rec, nodeSig), revision: revisionRecordToWire(rev, revSig) };
}
