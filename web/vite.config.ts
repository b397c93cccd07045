import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import preact from '@preact/preset-vite';

// The build goes straight into the Go package that embeds it
// (internal/webui, `//go:embed all:dist`): go:embed cannot reach outside
// its package folder.
const outDir = fileURLToPath(new URL('../internal/webui/dist', import.meta.url));

// The placeholder committed so that `go build` works before any web build;
// emptyOutDir deletes it, so it is written back after every build.
const KEEP = '# Placeholder: `make web` writes the built web client here (internal/webui embeds it).\n';
function keepPlaceholder(): Plugin {
  return {
    name: 'coffer-keep-placeholder',
    apply: 'build',
    closeBundle() {
      writeFileSync(`${outDir}/.keep`, KEEP);
    },
  };
}

export default defineConfig({
  // Every asset is served by `coffer serve` under /app/ (hashed names,
  // cached for good); the page itself is served at /s/<link-id>.
  base: '/app/',
  plugins: [preact(), keepPlaceholder()],
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    // No data: URLs for assets: everything is a file under /app/assets/.
    assetsInlineLimit: 0,
    // The polyfill is not needed by the browsers that run this page.
    modulePreload: { polyfill: false },
    sourcemap: false,
    rolldownOptions: {
      input: {
        index: fileURLToPath(new URL('./index.html', import.meta.url)),
        // The service worker: a fixed name (its URL is its identity),
        // served by the server at /s/sw.js so that its scope is /s/.
        sw: fileURLToPath(new URL('./src/sw.ts', import.meta.url)),
      },
      output: {
        entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
});
