package main

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/coffer-drive/coffer/internal/client"
)

// verification is what the check of one instance found.
type verification struct {
	Instance int `json:"instance"` // 1-based
	Checked  int `json:"checked"`  // recorded uploads looked for
	// Lost are recorded uploads that are not listed, do not download or
	// download different bytes, each with the reason.
	Lost []string `json:"lost,omitempty"`
	// Extra counts files listed but never recorded: uploads whose client
	// saw an error although the server kept them. They are not lost, and
	// not an error of the check.
	Extra   int     `json:"extra"`
	Seconds float64 `json:"seconds"`
}

// verifyAddr is the X-Forwarded-For of the checking client of an instance:
// outside the simulated clients' range, so its new-device logins are
// charged to an address of its own.
func verifyAddr(instance int) string { return fmt.Sprintf("10.78.0.%d", instance+1) }

// verify checks, through instance i alone (0-based) and with a fresh
// client that has seen nothing, that every upload a client saw succeed is
// listed in its folder and downloads byte for byte. Accounts are checked a
// few at a time.
func (l *loadRun) verify(ctx context.Context, i int, clientRoot string) (verification, error) {
	start := time.Now()
	v := verification{Instance: i + 1}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, a := range l.accounts {
		g.Go(func() error {
			checked, lost, extra, err := l.verifyAccount(gctx, i, a, clientRoot)
			if err != nil {
				return fmt.Errorf("check %s through instance %d: %w", a.name, i+1, err)
			}
			mu.Lock()
			defer mu.Unlock()
			v.Checked += checked
			v.Lost = append(v.Lost, lost...)
			v.Extra += extra
			return nil
		})
	}
	err := g.Wait()
	v.Seconds = time.Since(start).Seconds()
	return v, err
}

// verifyAccount checks one account's recorded uploads through instance i.
// An error is a failure of the check itself (the login, a listing), not a
// lost write.
func (l *loadRun) verifyAccount(ctx context.Context, i int, a *account, clientRoot string) (checked int, lost []string, extra int, err error) {
	files := a.recorded()
	if len(files) == 0 {
		return 0, nil, 0, nil
	}
	cfg, err := client.OpenConfig(filepath.Join(clientRoot, fmt.Sprintf("verify-%d-%s", i+1, a.name)))
	if err != nil {
		return 0, nil, 0, err
	}
	never := func(time.Time) bool { return false }
	cli := client.New(cfg, newHTTPClient([]*url.URL{l.targets[i]}, verifyAddr(i), l.reqs, never))
	cli.DeviceName = fmt.Sprintf("coffer-load check %d", i+1)
	if _, err := cli.Login(ctx, l.logical, a.name, l.password); err != nil {
		return 0, nil, 0, err
	}
	d, err := cli.Drive(ctx)
	if err != nil {
		return 0, nil, 0, err
	}
	// Every folder holding a recorded upload is listed once.
	listed := map[string]map[string]bool{}
	for _, f := range files {
		dir := path.Dir(f.path)
		if listed[dir] != nil {
			continue
		}
		e, err := d.Resolve(ctx, dir)
		if err != nil {
			return 0, nil, 0, fmt.Errorf("find %s: %w", dir, err)
		}
		kids, err := d.ListNames(ctx, e)
		if err != nil {
			return 0, nil, 0, err
		}
		names := make(map[string]bool, len(kids))
		for _, k := range kids {
			names[k.Name] = true
		}
		listed[dir] = names
	}
	want := map[string]bool{}
	for _, f := range files {
		checked++
		want[f.path] = true
		if !listed[path.Dir(f.path)][path.Base(f.path)] {
			lost = append(lost, fmt.Sprintf("%s %s: not listed", a.name, f.path))
			continue
		}
		if err := fetch(ctx, d, f); err != nil {
			if ctx.Err() != nil {
				return checked, lost, extra, context.Cause(ctx)
			}
			lost = append(lost, fmt.Sprintf("%s %s: %v", a.name, f.path, err))
		}
	}
	for dir, names := range listed {
		for n := range names {
			if !want[path.Join(dir, n)] {
				extra++
			}
		}
	}
	_ = cli.Logout(ctx) // the session would lapse anyway; the database is thrown away
	return checked, lost, extra, nil
}
