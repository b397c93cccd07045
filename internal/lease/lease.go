// Package lease runs background work under a lease that several server
// processes share through the metadata store, so that one of them at a
// time runs each pass: a repair census, a location's scrub, a garbage
// collection sweep.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"
)

// Store keeps the leases. meta.Store implements it.
type Store interface {
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// TTL is how long a lease lasts unless renewed. A holder renews it every
// TTL/3, so a crashed holder's work is taken over within TTL, and clocks
// may differ by much less than TTL/3 between machines.
const TTL = 90 * time.Second

// Holder names this process among those sharing a database: the host, the
// process ID and a random part, so that a restarted process is a new
// holder.
func Holder() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	var r [4]byte
	rand.Read(r[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(r[:]))
}

// Run runs fn while holder has the lease name, and reports whether it did:
// if another holder has the lease, fn does not run. The lease is renewed
// while fn runs. A renewal that fails is tried again at the next tick, but
// if none succeeds within two thirds of TTL of the last (say the database
// stopped answering), or another holder has the lease, fn's context is
// cancelled, before another process may take over. The lease is released once fn
// returns, or panics.
func Run(ctx context.Context, st Store, name, holder string, fn func(context.Context) error) (ran bool, err error) {
	held := time.Now()
	ok, err := st.AcquireLease(ctx, name, holder, held, TTL)
	if err != nil || !ok {
		return false, err
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	renewed := make(chan struct{})
	defer func() {
		cancel(nil)
		<-renewed
		// Release even when ctx ended (shutdown): another process
		// should not have to wait out the TTL.
		relCtx, relCancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer relCancel()
		if rerr := st.ReleaseLease(relCtx, name, holder); rerr != nil && err == nil {
			err = rerr
		}
	}()
	go func() {
		defer close(renewed)
		// fn must stop before the lease may have expired, with a third
		// of TTL to spare for clock skew: by deadline, whether the
		// renewals failed, hung or were never answered.
		deadline := held.Add(TTL * 2 / 3)
		stop := time.NewTimer(time.Until(deadline))
		defer stop.Stop()
		tick := time.NewTicker(TTL / 6)
		defer tick.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-stop.C:
				cancel(fmt.Errorf("lease %q not renewed since %v", name, held))
				return
			case <-tick.C:
			}
			now := time.Now()
			callCtx, callCancel := context.WithDeadline(runCtx, deadline)
			ok, err := st.AcquireLease(callCtx, name, holder, now, TTL)
			callCancel()
			switch {
			case runCtx.Err() != nil:
				return
			case err == nil && ok:
				held = now
				deadline = held.Add(TTL * 2 / 3)
				stop.Reset(time.Until(deadline))
			case err == nil:
				cancel(fmt.Errorf("lease %q taken by another holder", name))
				return
			}
			// A failed renewal is tried again at the next tick, until
			// the deadline.
		}
	}()
	return true, fn(runCtx)
}
