package foldersync

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// IgnoreFile is the name of the files holding ignore rules, in gitignore
// syntax. One may sit in any folder; its rules apply below it. They sync
// like any file, so every device ignores the same things.
const IgnoreFile = ".cofferignore"

// TrashDir is the folder, at the top of a synced folder, that receives
// local files deleted on another device.
const TrashDir = ".coffer-trash"

// markerFile marks a folder as synced. Without it, a folder whose state
// says it held files is refused: an unmounted disk shows an empty folder,
// and syncing that would delete everything on the server.
const markerFile = ".coffer-sync"

// defaultIgnores are the files editors and tools write beside the real
// ones while they work: swap and lock files, partial downloads. Syncing
// them would spread half-written files and fight with the editor.
var defaultIgnores = []string{
	"*.swp", "*.swo", "*.swx", ".*.sw?", "*~", ".#*", "#*#", ".~lock.*#", "~$*",
	"*.tmp", "*.part", "*.crdownload", "*.partial",
	".DS_Store", "Thumbs.db", "desktop.ini",
	".Trash-*", ".nfs*",
}

// reserved reports whether a name is the sync's own (never synced): the
// marker, the trash, and the temporary files of downloads and uploads.
func reserved(name string) bool {
	return strings.HasPrefix(name, ".coffer-")
}

// ignorer holds the ignore rules of one pass.
type ignorer struct {
	patterns []gitignore.Pattern
	m        gitignore.Matcher
}

func newIgnorer() *ignorer {
	ig := &ignorer{}
	for _, p := range defaultIgnores {
		ig.patterns = append(ig.patterns, gitignore.ParsePattern(p, nil))
	}
	ig.m = gitignore.NewMatcher(ig.patterns)
	return ig
}

// load adds the rules of the .cofferignore in local folder dir (rel is its
// path in the synced folder, "" at the top), if there is one.
func (ig *ignorer) load(dir, rel string) error {
	data, err := os.ReadFile(filepath.Join(dir, IgnoreFile))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", filepath.Join(dir, IgnoreFile), err)
	}
	ig.add(data, rel)
	return nil
}

func (ig *ignorer) add(data []byte, rel string) {
	var domain []string
	if rel != "" {
		domain = strings.Split(rel, "/")
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ig.patterns = append(ig.patterns, gitignore.ParsePattern(line, domain))
	}
	ig.m = gitignore.NewMatcher(ig.patterns)
}

// ignored reports whether the path (relative, "/"-separated) is ignored.
func (ig *ignorer) ignored(rel string, dir bool) bool {
	if rel == "" {
		return false
	}
	parts := strings.Split(rel, "/")
	for _, p := range parts {
		if reserved(p) {
			return true
		}
	}
	return ig.m.Match(parts, dir)
}
