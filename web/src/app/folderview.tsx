/** A link to a folder: its tree, Download for each file, and "Download all" as a zip. */
import { useEffect, useState } from 'preact/hooks';
import { asLinkError } from './errors.ts';
import { displayName, exactSize, humanSize, plural } from './format.ts';
import { useTransfer, type Transfer } from './hooks.ts';
import { CheckIcon, ChevronIcon, DownloadIcon, FileIcon, FolderIcon } from './icons.tsx';
import { safeFileName } from './save.ts';
import { downloadFile, downloadZipOf, walkTree } from './transfer.ts';
import { LinkError, type Entry, type FileEntry, type FolderEntry, type FolderLink } from './types.ts';
import { ErrorBanner, Progress, Spinner } from './widgets.tsx';

interface ListingState {
  entries?: Entry[];
  leftOut?: number;
  error?: LinkError;
}

/** Folders first, then by name as people sort them. */
function sorted(entries: Entry[]): Entry[] {
  return [...entries].sort((a, b) => (a.type !== b.type ? (a.type === 'folder' ? -1 : 1) : a.name.localeCompare(b.name, undefined, { numeric: true })));
}

/** Lists folder once, caching the answer in listings. */
function useListing(link: FolderLink, folder: FolderEntry, enabled: boolean): ListingState {
  const [listing, setListing] = useState<ListingState>({});
  useEffect(() => {
    if (!enabled || listing.entries || listing.error) return;
    let live = true;
    link.list(folder).then(
      (l) => live && setListing({ entries: sorted(l.entries), leftOut: l.leftOut }),
      (err: unknown) => live && setListing({ error: asLinkError(err) }),
    );
    return () => {
      live = false;
    };
  }, [link, folder, enabled, listing]);
  return listing;
}

export function FolderView({ link }: { link: FolderLink }) {
  const t = useTransfer();
  const root = link.root;
  const name = displayName(root.name);
  const listing = useListing(link, root, true);
  const downloadAll = () =>
    void t.run('Listing the files…', `Downloaded ${name}.zip`, async (progress, signal) => {
      const tree = await walkTree(link, root, signal, (n) => t.setLabel(`Listing the files… ${plural(n, 'file')}`));
      t.setLabel(`Downloading ${name}.zip (${plural(tree.files.length, 'file')})`);
      await downloadZipOf(link, safeFileName(root.name) + '.zip', tree, progress, signal);
    });
  const files = listing.entries?.filter((e) => e.type === 'file').length ?? 0;
  const folders = (listing.entries?.length ?? 0) - files;
  return (
    <div class="folder" data-testid="folder-view">
      <div class="folder-head">
        <FolderIcon class="icon head-icon" />
        <div class="folder-title">
          <h1 class="name" data-testid="folder-name" title={name}>
            {name}
          </h1>
          {listing.entries && (
            <p class="muted">
              {listing.entries.length === 0
                ? 'Empty folder'
                : [folders ? plural(folders, 'folder') : '', files ? plural(files, 'file') : ''].filter(Boolean).join(', ')}
            </p>
          )}
        </div>
        <button class="button primary" type="button" data-testid="download-all" disabled={t.busy || !listing.entries?.length} onClick={downloadAll}>
          <DownloadIcon /> Download all
        </button>
      </div>
      {t.error && <ErrorBanner error={t.error} />}
      {t.state && <Progress state={t.state} onCancel={t.cancel} />}
      {t.done && !t.state && (
        <p class="done" data-testid="done">
          <CheckIcon /> {t.done}
        </p>
      )}
      <Children link={link} listing={listing} transfer={t} depth={0} />
    </div>
  );
}

function Children({ link, listing, transfer, depth }: { link: FolderLink; listing: ListingState; transfer: Transfer; depth: number }) {
  if (listing.error) return <ErrorBanner error={listing.error} />;
  if (!listing.entries) return <Spinner label="Opening the folder…" />;
  const warning = listing.leftOut ? (
    <ErrorBanner
      error={
        new LinkError('tampered', `${listing.leftOut} record(s) in this folder did not verify`, {
          detail: `${plural(listing.leftOut, 'item')} in this folder could not be verified (not signed by the owner, or altered) and ${listing.leftOut === 1 ? 'is' : 'are'} not shown.`,
        })
      }
    />
  ) : null;
  if (listing.entries.length === 0) return warning ?? (depth === 0 ? null : <p class="muted empty">Empty folder</p>);
  return (
    <>
      {warning}
      <ul class={depth === 0 ? 'tree' : 'tree nested'} data-testid={depth === 0 ? 'tree' : undefined}>
        {listing.entries.map((e) =>
          e.type === 'file' ? (
            <FileRow key={e.id} link={link} file={e} transfer={transfer} />
          ) : (
            <FolderRow key={e.id} link={link} folder={e} transfer={transfer} depth={depth + 1} />
          ),
        )}
      </ul>
    </>
  );
}

function FolderRow({ link, folder, transfer, depth }: { link: FolderLink; folder: FolderEntry; transfer: Transfer; depth: number }) {
  const [open, setOpen] = useState(false);
  const listing = useListing(link, folder, open);
  const name = displayName(folder.name);
  return (
    <li class="node" data-testid="folder-row" data-name={folder.name}>
      <button type="button" class="row folder-toggle" aria-expanded={open} data-testid="folder-toggle" onClick={() => setOpen(!open)}>
        <ChevronIcon class={open ? 'icon chevron open' : 'icon chevron'} />
        <FolderIcon class="icon row-icon folder-color" />
        <span class="row-name" title={name}>
          {name}
        </span>
      </button>
      {open && <Children link={link} listing={listing} transfer={transfer} depth={depth} />}
    </li>
  );
}

function FileRow({ link, file, transfer }: { link: FolderLink; file: FileEntry; transfer: Transfer }) {
  const name = displayName(file.name);
  return (
    <li class="node" data-testid="file-row" data-name={file.name}>
      <div class="row">
        <span class="chevron-space" />
        <FileIcon class="icon row-icon" />
        <span class="row-name" title={name}>
          {name}
        </span>
        <span class="row-size" title={exactSize(file.size)}>
          {humanSize(file.size)}
        </span>
        <button
          type="button"
          class="button small"
          data-testid="download-file"
          aria-label={`Download ${name}`}
          disabled={transfer.busy}
          onClick={() => void transfer.run(`Downloading ${name}`, `Downloaded ${name}`, (p, s) => downloadFile(link, file, p, s))}
        >
          <DownloadIcon /> Download
        </button>
      </div>
    </li>
  );
}
