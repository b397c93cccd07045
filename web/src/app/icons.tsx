/** Inline SVG icons (DOM elements, not resources: nothing for the CSP to allow). */

interface IconProps {
  class?: string;
}

export function FileIcon({ class: cls = 'icon' }: IconProps) {
  return (
    <svg class={cls} viewBox="0 0 24 24" aria-hidden="true">
      <path d="M6 2h8l6 6v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2z" fill="currentColor" opacity=".15" />
      <path d="M6 2h8l6 6v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2z M14 2v6h6" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round" />
    </svg>
  );
}

export function FolderIcon({ class: cls = 'icon' }: IconProps) {
  return (
    <svg class={cls} viewBox="0 0 24 24" aria-hidden="true">
      <path d="M3 6a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z" fill="currentColor" opacity=".2" />
      <path d="M3 6a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round" />
    </svg>
  );
}

export function LockIcon({ class: cls = 'icon' }: IconProps) {
  return (
    <svg class={cls} viewBox="0 0 24 24" aria-hidden="true">
      <rect x="4" y="10" width="16" height="11" rx="2" fill="currentColor" opacity=".15" />
      <rect x="4" y="10" width="16" height="11" rx="2" fill="none" stroke="currentColor" stroke-width="1.5" />
      <path d="M8 10V7a4 4 0 0 1 8 0v3" fill="none" stroke="currentColor" stroke-width="1.5" />
      <circle cx="12" cy="15.5" r="1.5" fill="currentColor" />
    </svg>
  );
}

export function UploadIcon({ class: cls = 'icon' }: IconProps) {
  return (
    <svg class={cls} viewBox="0 0 24 24" aria-hidden="true">
      <path d="M12 16V4M7 9l5-5 5 5M4 16v3a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-3" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  );
}

export function DownloadIcon({ class: cls = 'icon' }: IconProps) {
  return (
    <svg class={cls} viewBox="0 0 24 24" aria-hidden="true">
      <path d="M12 4v12M7 11l5 5 5-5M4 20h16" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  );
}

export function AlertIcon({ class: cls = 'icon' }: IconProps) {
  return (
    <svg class={cls} viewBox="0 0 24 24" aria-hidden="true">
      <path d="M12 3l10 18H2z" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linejoin="round" />
      <path d="M12 10v5" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" />
      <circle cx="12" cy="18" r="1.1" fill="currentColor" />
    </svg>
  );
}

export function CheckIcon({ class: cls = 'icon' }: IconProps) {
  return (
    <svg class={cls} viewBox="0 0 24 24" aria-hidden="true">
      <path d="M5 12.5l4.5 4.5L19 7" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  );
}

export function ChevronIcon({ class: cls = 'icon chevron' }: IconProps) {
  return (
    <svg class={cls} viewBox="0 0 24 24" aria-hidden="true">
      <path d="M9 6l6 6-6 6" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  );
}

export function Logo() {
  return (
    <svg class="logo" viewBox="0 0 32 32" aria-hidden="true">
      <rect x="4" y="12" width="24" height="17" rx="3" fill="currentColor" />
      <path d="M10 12V9a6 6 0 0 1 12 0v3" fill="none" stroke="currentColor" stroke-width="3" />
      <circle cx="16" cy="20" r="2.5" fill="#fff" />
    </svg>
  );
}
