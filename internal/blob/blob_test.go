package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/coffer-drive/coffer/internal/blob"
	"github.com/coffer-drive/coffer/internal/blob/blobtest"
	"github.com/coffer-drive/coffer/internal/blob/file"
)

func TestIDString(t *testing.T) {
	id := blob.Sum([]byte("abc"))
	want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := id.String(); got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	back, err := blob.ParseID(want)
	if err != nil || back != id {
		t.Errorf("ParseID(%s) = %v, %v", want, back, err)
	}
	if blob.ID(sha256.Sum256([]byte("abc"))) != id {
		t.Error("Sum is not SHA-256")
	}
}

func TestParseIDRejects(t *testing.T) {
	good := blob.Sum(nil).String()
	for _, s := range []string{
		"",
		good[:63],
		good + "0",
		strings.ToUpper(good),
		good[:62] + "0g",
		good[:62] + " 0",
		"../" + good[3:],
		strings.Repeat("é", 32),
	} {
		if id, err := blob.ParseID(s); err == nil {
			t.Errorf("ParseID(%q) = %v, want an error", s, id)
		}
	}
}

func FuzzParseID(f *testing.F) {
	f.Add(blob.Sum(nil).String())
	f.Add("00")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := blob.ParseID(s)
		if err == nil && id.String() != s {
			t.Errorf("ParseID(%q) accepted a non-canonical spelling of %v", s, id)
		}
	})
}

// nopCloser records whether Close was called.
type nopCloser struct {
	io.Reader
	closed bool
}

func (c *nopCloser) Close() error { c.closed = true; return nil }

func TestVerifyReader(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 100_000)
	id := blob.Sum(data)

	t.Run("Sound", func(t *testing.T) {
		src := &nopCloser{Reader: bytes.NewReader(data)}
		rc := blob.VerifyReader(t.Context(), id, src)
		if err := iotest.TestReader(rc, data); err != nil {
			t.Error(err)
		}
		rc.Close()
		if !src.closed {
			t.Error("Close did not close the underlying reader")
		}
	})
	t.Run("WriteTo", func(t *testing.T) {
		rc := blob.VerifyReader(t.Context(), id, io.NopCloser(bytes.NewReader(data)))
		var buf bytes.Buffer
		if n, err := io.Copy(&buf, rc); err != nil || n != int64(len(data)) || !bytes.Equal(buf.Bytes(), data) {
			t.Errorf("io.Copy = %d, %v", n, err)
		}
	})
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"Flipped", append(append([]byte{}, data[:500]...), append([]byte{data[500] ^ 1}, data[501:]...)...)},
		{"Short", data[:len(data)-1]},
		{"Long", append(append([]byte{}, data...), 0)},
		{"Empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, copyFn := range []func(io.Reader) error{
				func(r io.Reader) error { _, err := io.ReadAll(r); return err },
				func(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err },
				func(r io.Reader) error { _, err := io.ReadAll(iotest.OneByteReader(r)); return err },
			} {
				rc := blob.VerifyReader(t.Context(), id, io.NopCloser(bytes.NewReader(tc.data)))
				err := copyFn(rc)
				if !errors.Is(err, blob.ErrCorrupt) {
					t.Errorf("read: error %v, want ErrCorrupt", err)
				}
				// The failure sticks.
				if _, err := rc.Read(make([]byte, 1)); !errors.Is(err, blob.ErrCorrupt) {
					t.Errorf("read after failure: error %v, want ErrCorrupt", err)
				}
			}
		})
	}
	t.Run("ReadError", func(t *testing.T) {
		boom := errors.New("disk on fire")
		rc := blob.VerifyReader(t.Context(), id, io.NopCloser(io.MultiReader(bytes.NewReader(data[:10]), iotest.ErrReader(boom))))
		_, err := io.ReadAll(rc)
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), fmt.Sprintf("%x", id[:8])) {
			t.Errorf("error %v, want %v naming the block", err, boom)
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		rc := blob.VerifyReader(ctx, id, io.NopCloser(bytes.NewReader(data)))
		if _, err := rc.Read(make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		cancel()
		if _, err := io.ReadAll(rc); !errors.Is(err, context.Canceled) {
			t.Errorf("read after cancel: error %v, want context.Canceled", err)
		}
	})
}

// TestConformanceWithoutBatch runs the suite on a file store with its
// PutBatch hidden, which covers blob.PutBatch's fallback to Put.
func TestConformanceWithoutBatch(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s, err := file.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return struct{ blob.Store }{s}
	}, blobtest.Hooks{})
}
