package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/meta"
)

// ThrottlePolicy is the brute-force policy for password and recovery proofs.
//
// Each failed proof counts against the account name, the client IP and, for
// a client that presents a device token from an earlier successful login,
// that device instead of the account. After Free failures on a key, every
// further failure blocks the key for Base·2^(n−Free), capped at Max. A key
// that has seen no failure for Forget starts from zero again.
//
// A device that has logged in to the account before is exempt from the
// account-wide and the IP counters and has its own, so an attacker guessing
// passwords from elsewhere can block new devices but never lock the owner
// out of the devices they already use (the "device cookie" defence).
type ThrottlePolicy struct {
	FreeAccount, FreeIP, FreeDevice int
	Base, Max, Forget               time.Duration
}

// DefaultThrottlePolicy returns the production policy.
func DefaultThrottlePolicy() ThrottlePolicy {
	return ThrottlePolicy{
		FreeAccount: 5, FreeIP: 20, FreeDevice: 10,
		Base: time.Second, Max: 15 * time.Minute, Forget: 24 * time.Hour,
	}
}

// throttleKeys are the counters one login attempt is charged to.
type throttleKeys struct {
	keys []string
	free []int
}

func (s *Server) keysFor(ctx context.Context, r *http.Request, user string, userID int64, deviceToken []byte) (throttleKeys, error) {
	if userID != 0 && len(deviceToken) > 0 {
		h := sha256.Sum256(deviceToken)
		known, err := s.store.DeviceKnown(ctx, userID, h[:])
		if err != nil {
			return throttleKeys{}, fmt.Errorf("look up device: %w", err)
		}
		if known {
			return throttleKeys{keys: []string{"device:" + hex.EncodeToString(h[:])}, free: []int{s.throttle.FreeDevice}}, nil
		}
	}
	return throttleKeys{
		keys: []string{"user:" + user, "ip:" + s.clientIP(r)},
		free: []int{s.throttle.FreeAccount, s.throttle.FreeIP},
	}, nil
}

// checkThrottle refuses with 429 if any key is blocked.
func (s *Server) checkThrottle(ctx context.Context, tk throttleKeys) error {
	now := s.now()
	for _, k := range tk.keys {
		t, err := s.store.GetThrottle(ctx, k)
		if err != nil {
			return fmt.Errorf("read throttle: %w", err)
		}
		if wait := t.BlockedUntil.Sub(now); wait > 0 {
			return &httpError{
				status: http.StatusTooManyRequests, code: api.CodeTooManyRequests,
				message:    fmt.Sprintf("too many failed attempts; try again in %s", wait.Round(time.Second)),
				retryAfter: int(math.Ceil(wait.Seconds())),
			}
		}
	}
	return nil
}

// recordFailure charges one failed proof to every key.
func (s *Server) recordFailure(ctx context.Context, tk throttleKeys) error {
	now := s.now()
	for i, k := range tk.keys {
		free := tk.free[i]
		_, err := s.store.UpdateThrottle(ctx, k, func(t meta.Throttle) meta.Throttle {
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
			return fmt.Errorf("record failed attempt: %w", err)
		}
	}
	return nil
}

// block is the backoff after the over-th failure beyond the free ones.
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

// clearAccountThrottle forgets an account's and a device's failures after a
// successful proof. The IP counter is left to decay, so that logging in to
// an account of one's own does not reset the count against others.
func (s *Server) clearAccountThrottle(ctx context.Context, tk throttleKeys) error {
	for _, k := range tk.keys {
		if strings.HasPrefix(k, "ip:") {
			continue
		}
		if err := s.store.ResetThrottle(ctx, k); err != nil {
			return fmt.Errorf("reset throttle: %w", err)
		}
	}
	return nil
}
