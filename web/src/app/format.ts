/** Formatting helpers for the link page. */

const UNITS = ['KB', 'MB', 'GB', 'TB', 'PB'];

/** A size in words: "512 bytes", "1.5 MB", "12 GB" (1 KB = 1024 bytes, as drives show it). */
export function humanSize(bytes: number): string {
  if (bytes < 1024) return bytes === 1 ? '1 byte' : `${bytes} bytes`;
  let v = bytes;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < UNITS.length - 1);
  const digits = v < 10 ? 1 : 0;
  return `${v.toFixed(digits)} ${UNITS[i]}`;
}

/** The exact size, for a tooltip: "1,073,741,824 bytes". */
export function exactSize(bytes: number): string {
  return `${bytes.toLocaleString('en-US')} ${bytes === 1 ? 'byte' : 'bytes'}`;
}

/**
 * A name as shown on the page: without control characters or bidi
 * overrides, which could make a name read as something else
 * ("exe.txt" shown for "txt.exe"). Preact escapes the rest.
 */
export function displayName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const s = name.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '\ufffd');
  return s === '' ? '(no name)' : s;
}

/** "3 files", "1 folder". */
export function plural(n: number, one: string, many = one + 's'): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** "a few seconds", "2 minutes". */
export function humanWait(seconds: number): string {
  if (seconds < 60) return seconds <= 1 ? 'a second' : `${Math.ceil(seconds)} seconds`;
  const m = Math.ceil(seconds / 60);
  return m === 1 ? 'a minute' : `${m} minutes`;
}
