package foldersync

import (
	"strings"
	"testing"
)

func TestIgnoreRules(t *testing.T) {
	ig := newIgnorer()
	ig.add([]byte("# comment\n*.log\n/build/\n!keep.log\ndocs/**/draft-*\r\n"), "")
	ig.add([]byte("secret.txt\n"), "sub")
	for _, c := range []struct {
		path string
		dir  bool
		want bool
	}{
		{"a.log", false, true},
		{"x/y/a.log", false, true},
		{"keep.log", false, false},
		{"build", true, true},
		{"x/build", true, false}, // anchored to the top
		{"docs/a/b/draft-1.md", false, true},
		{"docs/final.md", false, false},
		{"sub/secret.txt", false, true},
		{"secret.txt", false, false}, // the rule is sub's
		{".main.go.swp", false, true},
		{"report.docx", false, false},
		{"~$report.docx", false, true},
		{".coffer-trash", true, true},
		{"a/.coffer-sync-get-123", false, true},
	} {
		if got := ig.ignored(c.path, c.dir); got != c.want {
			t.Errorf("ignored(%q) = %v, want %v", c.path, got, c.want)
		}
	}
}

// Any rules file parses, and any path is matched without a panic; the
// sync's own names are ignored whatever the rules say.
func FuzzIgnoreRules(f *testing.F) {
	f.Add([]byte("*.log\n!keep.log\n/build/\n"), "a/b.log", false)
	f.Add([]byte("\\#x\n[a-\n**/\n!\n"), ".coffer-trash/x", true)
	f.Fuzz(func(t *testing.T, rules []byte, path string, dir bool) {
		ig := newIgnorer()
		ig.add(rules, "")
		ig.add(rules, "sub/dir")
		path = strings.Trim(path, "/")
		if path == "" {
			if ig.ignored(path, dir) {
				t.Fatal("the synced folder itself is ignored")
			}
			return
		}
		got := ig.ignored(path, dir)
		for _, part := range strings.Split(path, "/") {
			if reserved(part) && !got {
				t.Fatalf("%q holds a reserved name but is not ignored", path)
			}
		}
	})
}
