package replicated

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/coffer-drive/coffer/internal/blob"
)

// markerPrefix starts a location's marker object; the deployment's ID
// follows, then a newline.
const markerPrefix = "coffer block location\ndeployment "

// Bind ties every location to one deployment, named by a random ID kept
// in its metadata store: a location without a marker gets one, and a
// location whose marker names another deployment is refused. Repair
// deletes whatever the metadata does not list, so a server or an operator
// command pointed at the wrong metadata (a mistyped --data, a fresh
// database) must stop here instead of emptying the locations. Locations
// that cannot be reached are skipped; they are checked at the next start.
func (s *Store) Bind(ctx context.Context, deployment string) error {
	want := []byte(markerPrefix + deployment + "\n")
	errs := make([]error, len(s.sites))
	done := make(chan struct{})
	for i, st := range s.sites {
		go func() {
			defer func() { done <- struct{}{} }()
			data, err := st.read(ctx, markerID)
			switch {
			case errors.Is(err, blob.ErrNotFound):
				if err := st.putBatch(ctx, []blob.Block{{ID: markerID, Data: want}}); err != nil {
					s.log.Warn("could not mark block location as this deployment's", "location", st.name, "err", err)
				}
			case err != nil:
				s.log.Warn("block location unreachable: not checked against this deployment", "location", st.name, "err", err)
			case !bytes.Equal(data, want):
				other, _, _ := strings.Cut(strings.TrimPrefix(string(data), markerPrefix), "\n")
				if !strings.HasPrefix(string(data), markerPrefix) || len(other) > 64 {
					other = "unreadable"
				}
				errs[i] = fmt.Errorf("block location %s belongs to another Coffer deployment (%s, not %s): check --data and --store", st.name, other, deployment)
			}
		}()
	}
	for range s.sites {
		<-done
	}
	return errors.Join(errs...)
}
