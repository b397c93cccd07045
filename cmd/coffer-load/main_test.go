package main

import (
	"errors"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"
)

func TestParseMix(t *testing.T) {
	m, err := parseMix(defaultMix)
	if err != nil {
		t.Fatal(err)
	}
	if m.String() != defaultMix {
		t.Errorf("round trip: %q, want %q", m.String(), defaultMix)
	}
	for _, bad := range []string{"", "list", "list=1,list=2", "walk=1", "list=-1", "list=0,get=0", "list=x"} {
		if _, err := parseMix(bad); err == nil {
			t.Errorf("parseMix(%q) accepted", bad)
		}
	}
}

func TestMixPick(t *testing.T) {
	m, err := parseMix("list=3,get=1,login=0")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	n := map[string]int{}
	for range 40000 {
		n[m.pick(rng)]++
	}
	if n[opLogin] != 0 {
		t.Errorf("picked login %d times at weight 0", n[opLogin])
	}
	if r := float64(n[opList]) / float64(n[opGet]); r < 2.8 || r > 3.2 {
		t.Errorf("list:get = %.2f, want about 3 (%v)", r, n)
	}
}

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(s, c.q); got != c.want {
			t.Errorf("percentile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := percentile(s[:1], 0.99); got != time.Millisecond {
		t.Errorf("one sample: %v", got)
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("no sample: %v", got)
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct{ method, url, want string }{
		{"GET", "http://h/v1/nodes/AbC_-12/children", "GET /v1/nodes/{id}/children"},
		{"GET", "http://h/v1/nodes/AbC/children?name_hash=xyz", "GET /v1/nodes/{id}/children?name_hash"},
		{"POST", "http://h/v1/blocks/missing", "POST /v1/blocks/missing"},
		{"GET", "http://h/v1/blocks/abc", "GET /v1/blocks/{id}"},
		{"POST", "http://h/v1/login/start", "POST /v1/login/start"},
		{"GET", "http://h/nowhere", "GET (other)"},
	} {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := classify(c.method, u); got != c.want {
			t.Errorf("classify(%s %s) = %q, want %q", c.method, c.url, got, c.want)
		}
	}
}

func TestErrorLogGroups(t *testing.T) {
	l := newErrorLog()
	l.add(opGet, errors.New("/d001/f000012: not found"))
	l.add(opGet, errors.New("/d007/f000345: not found"))
	l.add(opPut, errors.New("server: conflict"))
	kinds, total := l.first(10)
	if total != 3 || len(kinds) != 2 || kinds[0].Count != 2 || kinds[0].Example != "get: /d001/f000012: not found" {
		t.Errorf("got %d kinds, total %d: %+v", len(kinds), total, kinds)
	}
}
