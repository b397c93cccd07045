// Package webui holds the built browser client (the public link page),
// embedded into the binary.
//
// The files come from `make web` (web/, built by Vite straight into
// dist/). Only dist/.keep is committed, so that the package builds before
// any web build; then Built reports false and the server says how to build
// the client.
package webui

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var files embed.FS

// FS returns the built client: index.html, sw.js and assets/ at its root.
func FS() fs.FS {
	sub, err := fs.Sub(files, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path: cannot happen
	}
	return sub
}

// Built reports whether fsys holds a built client (its index.html).
func Built(fsys fs.FS) bool {
	st, err := fs.Stat(fsys, "index.html")
	return err == nil && !st.IsDir()
}
