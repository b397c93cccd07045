package bytesize

import "testing"

func TestParse(t *testing.T) {
	good := map[string]int64{
		"0": 0, "1048576": 1 << 20, "500MB": 500e6, "10GiB": 10 << 30, "1.5 TiB": 3 << 39,
		"2kib": 2048, "7B": 7, "1GB": 1e9, "4KiB": 4096, "100KB": 100000, "2 MiB": 2 << 20,
	}
	for in, want := range good {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1GB", "lots", "10XB", "1e30"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) succeeded", in)
		}
	}
}
