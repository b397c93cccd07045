package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/meta"
)

// ThrottlePolicy is the brute-force policy for password and recovery proofs
// and for sign-ups.
//
// Every attempt is charged when it begins (login/start, recover/start,
// signup), atomically with the check whether the counter is blocked, so
// attempts run in parallel cannot slip past the limit. A successful proof
// clears the account and device counters and refunds the IP counter.
//
// After Free attempts on a counter, every further one blocks it for
// Base·2^(n−Free), capped at Max. A counter that has seen no attempt for
// Forget starts from zero again.
//
// A device that has logged in to the account before is charged to its own
// counter only and is exempt from the account and IP counters, so someone
// guessing passwords from elsewhere can block new devices but never lock
// the owner out of the devices they already use (the "device cookie"
// defence).
type ThrottlePolicy struct {
	FreeAccount, FreeIP, FreeDevice, FreeSignup int
	Base, Max, Forget                           time.Duration
}

// DefaultThrottlePolicy returns the production policy.
func DefaultThrottlePolicy() ThrottlePolicy {
	return ThrottlePolicy{
		FreeAccount: 5, FreeIP: 20, FreeDevice: 10, FreeSignup: 20,
		Base: time.Second, Max: 15 * time.Minute, Forget: 24 * time.Hour,
	}
}

// throttleKeys are the counters one attempt is charged to.
type throttleKeys struct {
	keys []string
	free []int
}

func (tk *throttleKeys) add(key string, free int) {
	tk.keys = append(tk.keys, key)
	tk.free = append(tk.free, free)
}

// loginKeys returns the counters a login attempt for the account is charged to.
func (s *Server) loginKeys(ctx context.Context, r *http.Request, user string, userID int64, deviceToken []byte) (throttleKeys, error) {
	var tk throttleKeys
	if userID != 0 && len(deviceToken) > 0 {
		h := sha256.Sum256(deviceToken)
		known, err := s.store.DeviceKnown(ctx, userID, h[:])
		if err != nil {
			return tk, fmt.Errorf("look up device: %w", err)
		}
		if known {
			tk.add("device:"+hex.EncodeToString(h[:]), s.throttle.FreeDevice)
			return tk, nil
		}
	}
	tk.add("user:"+user, s.throttle.FreeAccount)
	tk.add("ip:"+s.clientIP(r), s.throttle.FreeIP)
	return tk, nil
}

// ipKeys returns the IP counter alone, for recovery: a recovery proof is a
// 256-bit key, so guessing it is hopeless and counting failures per account
// would only let a stranger block the owner's recovery.
func (s *Server) ipKeys(r *http.Request) throttleKeys {
	var tk throttleKeys
	tk.add("ip:"+s.clientIP(r), s.throttle.FreeIP)
	return tk
}

// charge counts one attempt against every counter, refusing with 429 if
// any of them is blocked. Check and count happen in one transaction per
// counter.
func (s *Server) charge(ctx context.Context, tk throttleKeys) error {
	now := s.now()
	var wait time.Duration
	for i, k := range tk.keys {
		free := tk.free[i]
		// The store may run fn more than once (a transaction that lost a
		// race runs again), so fn sets keyWait rather than adding to
		// what an earlier run left.
		var keyWait time.Duration
		_, err := s.store.UpdateThrottle(ctx, k, func(t meta.Throttle) meta.Throttle {
			keyWait = 0
			if w := t.BlockedUntil.Sub(now); w > 0 {
				keyWait = w
				return t
			}
			if now.Sub(t.LastFailure) > s.throttle.Forget {
				t.Failures = 0
			}
			t.Failures++
			t.LastFailure = now
			if over := t.Failures - free; over > 0 {
				t.BlockedUntil = now.Add(s.throttle.block(over))
			}
			return t
		})
		if err != nil {
			return fmt.Errorf("count attempt: %w", err)
		}
		wait = max(wait, keyWait)
	}
	if wait > 0 {
		return &httpError{
			status: http.StatusTooManyRequests, code: api.CodeTooManyRequests,
			message:    fmt.Sprintf("too many attempts; try again in %s", wait.Round(time.Second)),
			retryAfter: int(math.Ceil(wait.Seconds())),
		}
	}
	return nil
}

// block is the backoff after the over-th attempt beyond the free ones.
func (p ThrottlePolicy) block(over int) time.Duration {
	if over > 30 {
		return p.Max
	}
	d := p.Base << (over - 1)
	if d > p.Max || d <= 0 {
		return p.Max
	}
	return d
}

// succeeded clears the account and device counters after a valid proof and
// takes back the attempt charged to the IP counter. The IP counter is not
// cleared, so that logging in to an account of one's own does not wipe the
// count of guesses against others.
func (s *Server) succeeded(ctx context.Context, tk throttleKeys) error {
	for _, k := range tk.keys {
		var err error
		if strings.HasPrefix(k, "ip:") {
			_, err = s.store.UpdateThrottle(ctx, k, func(t meta.Throttle) meta.Throttle {
				if t.Failures > 0 {
					t.Failures--
				}
				return t
			})
		} else {
			err = s.store.ResetThrottle(ctx, k)
		}
		if err != nil {
			return fmt.Errorf("clear throttle: %w", err)
		}
	}
	return nil
}

// clientIP is the address the IP counter is kept for. Behind a trusted
// proxy it is the nearest address in X-Forwarded-For that is not itself a
// trusted proxy. IPv6 addresses count per /64, the block one subscriber
// typically holds.
func (s *Server) clientIP(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	addr := ap.Addr().Unmap()
	if s.trusted(addr) {
		// Proxies append; several header lines are one list, in order.
		var hops []string
		for _, v := range r.Header.Values("X-Forwarded-For") {
			hops = append(hops, strings.Split(v, ",")...)
		}
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			addr = hop.Unmap()
			if !s.trusted(addr) {
				break
			}
		}
	}
	if addr.Is6() {
		p, err := addr.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return addr.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// throttleKinds label the throttle's refusals in the metrics: what was
// attempted, never who or from where.
var throttleKinds = []string{"signup", "login", "recover", "link", routeOther}

// throttleByRoute maps the routes the throttle guards to their kind.
var throttleByRoute = map[string]string{
	"POST " + api.PathSignup:          "signup",
	"POST " + api.PathLoginStart:      "login",
	"POST " + api.PathLoginFinish:     "login",
	"POST " + api.PathRecoverStart:    "recover",
	"POST " + api.PathRecoverUnlock:   "recover",
	"POST " + api.PathRecoverFinish:   "recover",
	"POST " + api.PathLinkLoginStart:  "link",
	"POST " + api.PathLinkLoginFinish: "link",
}

// throttleKind is the kind of a refusal on route. Refusals are counted
// where every answer is (httpMetrics.observe), by their status: the API
// answers 429 only for a throttle's refusal (charge here; chargeBuckets
// and proofAllowed for links), so one place counts them all.
func throttleKind(route string) string {
	if k, ok := throttleByRoute[route]; ok {
		return k
	}
	return routeOther
}
