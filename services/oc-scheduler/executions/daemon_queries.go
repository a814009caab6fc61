package executions

import (
	"context"
	"fmt"
	"time"

	"github.com/opencloud/opencloud/libs/execution"
	ds "github.com/opencloud/opencloud/libs/store"
)

// NextStartAfter is the earliest start later than after of a scheduled
// execution (ok false when none): when the next execution not yet due
// becomes due. oc-schedulerd sleeps until then, whatever waits before it.
func (s *Store) NextStartAfter(ctx context.Context, after time.Time) (time.Time, bool, error) {
	recs, _, err := s.execs.Find(ctx, ds.Query{
		Filter: ds.And(ds.Eq("state", string(execution.Scheduled)), ds.Gt("start", Stamp(after))),
		Sort:   []ds.Sort{{Field: string(SortStart)}}, Limit: 1})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("find the next start: %w", err)
	}
	if len(recs) == 0 {
		return time.Time{}, false, nil
	}
	// Only the start is read: the rest of the document is not decoded.
	var e struct {
		Start time.Time `json:"start"`
	}
	if err := recs[0].Decode(&e); err != nil {
		return time.Time{}, false, fmt.Errorf("decode execution %s: %w", recs[0].ID, err)
	}
	return e.Start, true, nil
}
