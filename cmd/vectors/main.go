// Command vectors writes the interoperability test vectors of
// internal/crypto as JSON files:
//
//	go run ./cmd/vectors -out testdata/vectors
//
// The output is deterministic. The tests of internal/crypto check that the
// files in testdata/vectors match what the code produces, so rerun this
// command after any intended change to a construction, and review the diff.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/coffer-drive/coffer/internal/crypto"
)

func main() {
	out := flag.String("out", "testdata/vectors", "directory to write the vector files into")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "vectors:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	files, err := crypto.GenerateVectors()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(dir, name)
		if err := writeFile(path, files[name]); err != nil {
			return err
		}
		fmt.Println("wrote", path)
	}
	return nil
}

// writeFile replaces path atomically, so a failed run never leaves a
// half-written vector file for the tests to trip over.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
