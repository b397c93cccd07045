package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/crypto"
)

// PeerKey is a user's public bundle as this client sees it.
type PeerKey struct {
	User        string
	Fingerprint string
	// Pinned is true when the user verified this fingerprint out of band.
	Pinned bool
	Bundle *crypto.PublicBundle
}

// Fingerprint returns the fingerprint of user's public bundle, or of the
// account's own if user is empty or the account's own name. A peer's bundle
// is fetched from the server and its signature checked; if the user pinned
// a different fingerprint before, the result is an error wrapping
// ErrKeyChanged.
func (c *Client) Fingerprint(ctx context.Context, user string) (*PeerKey, error) {
	acc, err := c.Open(ctx)
	if err != nil {
		return nil, err
	}
	if user == "" || user == acc.Session.User {
		return &PeerKey{User: acc.Session.User, Fingerprint: acc.Bundle.Fingerprint(), Pinned: true, Bundle: acc.Bundle}, nil
	}
	b, err := c.fetchBundle(ctx, acc, user)
	if err != nil {
		return nil, err
	}
	pk := &PeerKey{User: user, Fingerprint: b.Fingerprint(), Bundle: b}
	st, err := c.cfg.State()
	if err != nil {
		return nil, err
	}
	if pin, ok := st.Pins[pinKey(acc.Session.Server, acc.Session.User, user)]; ok {
		if !crypto.FingerprintEqual(pin.Fingerprint, pk.Fingerprint) {
			return pk, fmt.Errorf("%w: the server now presents a key for %s with fingerprint %s, but you verified %s; do not trust it until you have checked the new fingerprint with %s out of band and run `coffer verify %s FINGERPRINT`",
				ErrKeyChanged, user, pk.Fingerprint, pin.Fingerprint, user, user)
		}
		pk.Pinned = true
	}
	return pk, nil
}

// Verify pins user's key if its fingerprint equals the one the user
// compared out of band.
func (c *Client) Verify(ctx context.Context, user, fingerprint string) (*PeerKey, error) {
	if err := api.CheckUserName(user); err != nil {
		return nil, err
	}
	acc, err := c.Open(ctx)
	if err != nil {
		return nil, err
	}
	if user == acc.Session.User {
		return nil, fmt.Errorf("%s is your own account; compare `coffer fingerprint` on your devices instead", user)
	}
	b, err := c.fetchBundle(ctx, acc, user)
	if err != nil {
		return nil, err
	}
	fp := b.Fingerprint()
	if !crypto.FingerprintEqual(fingerprint, fp) {
		return nil, fmt.Errorf("the fingerprint you gave does not match the key the server presents for %s (%s); not pinned. Check it with %s again", user, fp, user)
	}
	err = c.cfg.UpdateState(func(s *State) {
		s.Pins[pinKey(acc.Session.Server, acc.Session.User, user)] = Pin{Fingerprint: fp}
	})
	if err != nil {
		return nil, err
	}
	return &PeerKey{User: user, Fingerprint: fp, Pinned: true, Bundle: b}, nil
}

func (c *Client) fetchBundle(ctx context.Context, acc *Account, user string) (*crypto.PublicBundle, error) {
	if err := api.CheckUserName(user); err != nil {
		return nil, err
	}
	var resp api.BundleResponse
	if err := acc.t.do(ctx, http.MethodGet, "/v1/users/"+url.PathEscape(user)+"/bundle", nil, &resp); err != nil {
		return nil, fmt.Errorf("fetch the key of %s: %w", user, err)
	}
	b, err := crypto.OpenBundle(resp.PublicBundle, user)
	if err != nil {
		return nil, fmt.Errorf("the server sent a bad key bundle for %s: %w", user, err)
	}
	return b, nil
}
