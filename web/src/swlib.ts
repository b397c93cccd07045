/** Pure helpers of the service worker (sw.ts), apart so that node tests can import them. */

/**
 * The Content-Disposition of a download named name:
 * attachment; filename="<ASCII fallback>"; filename*=UTF-8''<RFC 8187 percent-encoding>.
 */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*!]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
