// Package bytesize reads the sizes people type on command lines, such as
// 500MB or 10GiB, for every Coffer command.
package bytesize

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse reads sizes like 1048576, 500MB, 10GiB or 1.5TiB: decimal (KB,
// MB, GB, TB) and binary (KiB, MiB, GiB, TiB) units, in any case, with an
// optional space.
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	mult := 1.0
	for _, u := range units {
		// Longest suffixes come first, so "GiB" is never read as "B".
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			mult, t = u.mult, strings.TrimSpace(t[:len(t)-len(u.suffix)])
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*mult > 1<<62 {
		return 0, fmt.Errorf("size %q: want a number with an optional unit such as 500MB or 10GiB", s)
	}
	return int64(v * mult), nil
}
