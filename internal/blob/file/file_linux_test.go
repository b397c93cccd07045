//go:build linux

package file

import "testing"

func TestKernelAtLeast(t *testing.T) {
	for _, tc := range []struct {
		release string
		want    bool
	}{
		{"5.8.0", true},
		{"5.8", true},
		{"5.8-rc1", true},
		{"5.10.0-28-amd64", true},
		{"6.1.0-13-amd64", true},
		{"6.18.44-fc-v669", true},
		{"10.0.0", true},
		{"5.7.19", false},
		{"5.4.0-150-generic", false},
		{"4.19.0", false},
		{"3.10.0-1160.el7.x86_64", false},
		{"", false},
		{"linux", false},
		{"5", false},
		{"x.9", false},
		{"5.x", false},
	} {
		if got := kernelAtLeast(tc.release, 5, 8); got != tc.want {
			t.Errorf("kernelAtLeast(%q, 5, 8) = %v, want %v", tc.release, got, tc.want)
		}
	}
}

// TestCanSyncFS checks that the filesystem the tests run on is recognised
// when it is one that syncfs serves, so that TestConformance covers the
// syncfs path there.
func TestCanSyncFS(t *testing.T) {
	ok, err := canSyncFS(t.TempDir())
	if err != nil {
		t.Fatalf("canSyncFS: %v", err)
	}
	t.Logf("canSyncFS(%s) = %v", t.TempDir(), ok)
	if _, err := canSyncFS("/does/not/exist"); err == nil {
		t.Errorf("canSyncFS of a missing folder succeeded")
	}
}
