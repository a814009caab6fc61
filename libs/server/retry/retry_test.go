package retry_test

import (
	"context"
	"errors"
	"testing"

	"github.com/opencloud/opencloud/libs/server/retry"
)

var errStale = errors.New("version conflict")

func TestOnConflict(t *testing.T) {
	cases := []struct {
		name      string
		losses    int   // how many races the change loses before it succeeds
		err       error // what it returns instead, when not nil
		wantRuns  int
		wantValue int
		wantErr   error
	}{
		{"wins at once", 0, nil, 1, 1, nil},
		{"loses twice, then wins", 2, nil, 3, 3, nil},
		{"loses every race", 100, nil, retry.Attempts, 0, errStale},
		{"fails for good", 0, errors.New("forbidden"), 1, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runs := 0
			v, err := retry.OnConflict(t.Context(), func(context.Context) (int, error) {
				runs++
				switch {
				case tc.err != nil:
					return 0, tc.err
				case runs <= tc.losses:
					return 0, retry.LostRace(errStale)
				}
				return runs, nil
			})
			want := tc.wantErr
			if tc.err != nil {
				want = tc.err
			}
			if runs != tc.wantRuns || v != tc.wantValue || !errors.Is(err, want) {
				t.Errorf("runs %d value %d err %v; want %d, %d, %v", runs, v, err, tc.wantRuns, tc.wantValue, want)
			}
			if err != nil && err.Error() != want.Error() {
				t.Errorf("the error comes back as %q, want it as the change made it (%q)", err, want)
			}
		})
	}
}

func TestOnConflictStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	runs := 0
	_, err := retry.OnConflict(ctx, func(context.Context) (struct{}, error) {
		runs++
		cancel()
		return struct{}{}, retry.LostRace(errStale)
	})
	if runs != 1 || !errors.Is(err, errStale) {
		t.Errorf("runs %d err %v; want 1 run and the conflict", runs, err)
	}
}

func TestLostRaceOfNil(t *testing.T) {
	if err := retry.LostRace(nil); err != nil {
		t.Errorf("LostRace(nil) = %v", err)
	}
}
