package main

import (
	"slices"
	"testing"
)

func TestParseLayouts(t *testing.T) {
	ls, err := parseLayouts(" 1, 1x,3x , 4+2")
	if err != nil {
		t.Fatal(err)
	}
	want := []layout{{name: "1"}, {name: "1x", folders: 1}, {name: "3x", folders: 3}, {name: "4+2", folders: 6, k: 4, m: 2}}
	if !slices.Equal(ls, want) {
		t.Fatalf("got %+v, want %+v", ls, want)
	}
	for _, s := range []string{"none", ""} {
		if ls, err := parseLayouts(s); err != nil || ls != nil {
			t.Errorf("parseLayouts(%q) = %v, %v; want none", s, ls, err)
		}
	}
	for _, s := range []string{"2", "0x", "17x", "x", "4+", "+2", "4+0", "12+5", "3x,3x", "1,,3x", "4-2"} {
		if _, err := parseLayouts(s); err == nil {
			t.Errorf("parseLayouts(%q) accepted", s)
		}
	}
}

func TestLayoutFlags(t *testing.T) {
	for _, c := range []struct {
		spec   string
		flags  []string
		stored float64
	}{
		{"1", nil, 1},
		{"3x", []string{"--store", "file:///r/store0", "--store", "file:///r/store1", "--store", "file:///r/store2"}, 3},
		{"2+1", []string{"--store", "file:///r/store0", "--store", "file:///r/store1", "--store", "file:///r/store2", "--erasure", "2+1"}, 1.5},
	} {
		l, err := parseLayout(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.flags("/r"); !slices.Equal(got, c.flags) {
			t.Errorf("%s: flags %q, want %q", c.spec, got, c.flags)
		}
		if l.stored() != c.stored {
			t.Errorf("%s: stores %v per byte, want %v", c.spec, l.stored(), c.stored)
		}
	}
}

func TestMedian(t *testing.T) {
	ps := []phase{{name: "a", wall: 3}, {name: "b", wall: 1}, {name: "c", wall: 2}}
	if m := median(ps); m.name != "c" {
		t.Errorf("median of 3, 1, 2 is %s, want c", m.name)
	}
	if ps[0].name != "a" {
		t.Error("median reordered its argument")
	}
	if m := median(ps[:2]); m.name != "a" {
		t.Errorf("median of 3, 1 is %s, want the slower, a", m.name)
	}
}
