package main

import (
	"regexp"
	"slices"
	"sort"
	"sync"
	"time"
)

// series is the latencies and error count of one kind of operation or
// request.
type series struct {
	lat  []time.Duration // successful ones only
	errs int
}

// recorder collects series by name. Samples are kept whole rather than in
// a histogram: a minute of load is at most a few hundred thousand samples,
// and exact percentiles need no bucket bounds chosen in advance.
type recorder struct {
	mu sync.Mutex
	m  map[string]*series
}

func newRecorder() *recorder { return &recorder{m: map[string]*series{}} }

// add records one sample: its latency if it succeeded, an error otherwise.
func (r *recorder) add(name string, d time.Duration, failed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.m[name]
	if s == nil {
		s = &series{}
		r.m[name] = s
	}
	if failed {
		s.errs++
		return
	}
	s.lat = append(s.lat, d)
}

// summary is what the report says about one series.
type summary struct {
	Name   string  `json:"name"`
	Count  int     `json:"count"` // successful
	Errors int     `json:"errors"`
	PerSec float64 `json:"per_sec"` // successful per second of the measured window
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	Maxms  float64 `json:"max_ms"`
}

// summarize returns one summary per series, sorted by name, each over a
// window of the given length.
func (r *recorder) summarize(window time.Duration) []summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]summary, 0, len(names))
	for _, n := range names {
		out = append(out, summarizeSeries(n, window, r.m[n]))
	}
	return out
}

// merged summarizes several series of r as one, named name.
func (r *recorder) merged(name string, window time.Duration, names ...string) summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all series
	for _, n := range names {
		if s := r.m[n]; s != nil {
			all.lat = append(all.lat, s.lat...)
			all.errs += s.errs
		}
	}
	return summarizeSeries(name, window, &all)
}

func summarizeSeries(name string, window time.Duration, s *series) summary {
	lat := slices.Clone(s.lat)
	slices.Sort(lat)
	sum := summary{Name: name, Count: len(lat), Errors: s.errs}
	if window > 0 {
		sum.PerSec = float64(len(lat)) / window.Seconds()
	}
	if len(lat) > 0 {
		sum.P50ms = ms(percentile(lat, 0.50))
		sum.P99ms = ms(percentile(lat, 0.99))
		sum.Maxms = ms(lat[len(lat)-1])
	}
	return sum
}

// percentile returns the q-quantile of sorted samples by the nearest-rank
// method: the smallest sample with at least q of all samples at or below
// it, so p99 of 100 samples is the 99th.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted)) + 0.999999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// errorLog counts errors by a normalized message and keeps the first raw
// message of each kind, so that the report shows a few distinct causes
// rather than one line per file name or ID.
type errorLog struct {
	mu    sync.Mutex
	kinds map[string]*errorKind
	order []string
	total int
}

// errorKind is one distinct cause: the first message seen and how often.
type errorKind struct {
	Example string `json:"example"`
	Count   int    `json:"count"`
}

// variable matches the parts of an error message that differ between
// occurrences of the same cause: numbers (file names, ports, durations),
// base64url IDs and hex.
var variable = regexp.MustCompile(`[A-Za-z0-9_-]{20,}|[0-9]+`)

func newErrorLog() *errorLog { return &errorLog{kinds: map[string]*errorKind{}} }

// add records one error, prefixed by the operation (or phase) it ended.
func (l *errorLog) add(op string, err error) {
	msg := op + ": " + err.Error()
	key := variable.ReplaceAllString(msg, "#")
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	k := l.kinds[key]
	if k == nil {
		k = &errorKind{Example: msg}
		l.kinds[key] = k
		l.order = append(l.order, key)
	}
	k.Count++
}

// first returns up to n distinct causes in the order they first occurred,
// and the total number of errors.
func (l *errorLog) first(n int) ([]errorKind, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []errorKind
	for _, key := range l.order {
		if len(out) == n {
			break
		}
		out = append(out, *l.kinds[key])
	}
	return out, l.total
}
