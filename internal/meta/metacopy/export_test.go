package metacopy

import (
	"context"
	"database/sql"
)

// SetHookCopied makes every copy run f on the destination's transaction
// once every table is copied, before the verification, until the
// returned function is called.
func SetHookCopied(f func(ctx context.Context, dst *sql.Tx) error) (restore func()) {
	testHookCopied = f
	return func() { testHookCopied = nil }
}
