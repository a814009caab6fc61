package booking

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/server"
)

var now = time.Date(2026, 11, 21, 14, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func TestExpand(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name        string
		req         execution.Request
		n           int
		first, last string // window starts
		length      time.Duration
	}{
		{"seed: 6 fields, seconds 0-10 of one minute, start at .012",
			execution.Request{Cron: "0-10 30 14 21 11 *", Mode: 1, Start: at("2026-11-21T14:30:00.012Z"), End: ptr(at("2026-12-21T14:30:00.012Z"))},
			11, "2026-11-21T14:30:00Z", "2026-11-21T14:30:10Z", 5 * time.Minute},
		{"5 fields: every hour for a day",
			execution.Request{Cron: "0 * * * *", Mode: 1, Start: at("2026-11-22T00:00:00Z"), End: ptr(at("2026-11-22T23:59:59Z")), DurationSeconds: 600},
			24, "2026-11-22T00:00:00Z", "2026-11-22T23:00:00Z", 10 * time.Minute},
		{"5 fields: end is inclusive",
			execution.Request{Cron: "*/15 * * * *", Mode: 1, Start: at("2026-11-22T10:00:00Z"), End: ptr(at("2026-11-22T11:00:00Z"))},
			5, "2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z", 5 * time.Minute},
		{"descriptor", execution.Request{Cron: "@daily", Mode: 1, Start: at("2026-11-22T00:00:00Z"), End: ptr(at("2026-11-28T00:00:00Z"))},
			7, "2026-11-22T00:00:00Z", "2026-11-28T00:00:00Z", 5 * time.Minute},
		{"exactly the cap", execution.Request{Cron: "* * * * * *", Mode: 1, Start: at("2026-11-22T00:00:00Z"), End: ptr(at("2026-11-22T00:16:39Z"))},
			execution.MaxFirings, "2026-11-22T00:00:00Z", "2026-11-22T00:16:39Z", 5 * time.Minute},
		{"no cron: one at start for the default duration", execution.Request{Mode: 1, Start: at("2026-11-22T08:00:00Z")},
			1, "2026-11-22T08:00:00Z", "2026-11-22T08:00:00Z", 5 * time.Minute},
		{"no cron with end: the window is start to end", execution.Request{Mode: 1, Start: at("2026-11-22T08:00:00Z"), End: ptr(at("2026-11-22T10:00:00Z"))},
			1, "2026-11-22T08:00:00Z", "2026-11-22T08:00:00Z", 2 * time.Hour},
		{"start within the past minute is accepted", execution.Request{Mode: 1, Start: now.Add(-30 * time.Second)},
			1, "2026-11-21T13:59:30Z", "2026-11-21T13:59:30Z", 5 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Expand(tc.req, now, 5*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Windows) != tc.n {
				t.Fatalf("%d windows, want %d", len(p.Windows), tc.n)
			}
			if got := p.Windows[0].Start.Format(time.RFC3339); got != tc.first {
				t.Errorf("first = %s, want %s", got, tc.first)
			}
			if got := p.Windows[tc.n-1].Start.Format(time.RFC3339); got != tc.last {
				t.Errorf("last = %s, want %s", got, tc.last)
			}
			for _, w := range p.Windows {
				if w.End.Sub(w.Start) != tc.length {
					t.Fatalf("window %v lasts %s, want %s", w, w.End.Sub(w.Start), tc.length)
				}
			}
		})
	}
}

func TestExpandASAP(t *testing.T) {
	p, err := Expand(execution.Request{Mode: 0}, now, time.Minute)
	if err != nil || p.Mode != execution.ASAP || !p.Earliest.Equal(now) || p.Duration != time.Minute {
		t.Fatalf("%+v %v", p, err)
	}
	later := now.Add(time.Hour)
	p, err = Expand(execution.Request{Mode: 0, Start: later, DurationSeconds: 60}, now, 5*time.Minute)
	if err != nil || !p.Earliest.Equal(later) || p.Duration != time.Minute {
		t.Fatalf("%+v %v", p, err)
	}
}

// TestExpandRefusals: every problem is named, all at once.
func TestExpandRefusals(t *testing.T) {
	at := now.Add(time.Hour)
	for _, tc := range []struct {
		name string
		req  execution.Request
		want map[string]string // field → substring of its problem
	}{
		{"everything at once", execution.Request{ID: ptr("x"), Name: ptr(strings.Repeat("n", 201)), Mode: 2, Cron: "61 * * * *",
			Start: at, End: ptr(at.Add(-time.Hour)), DurationSeconds: 8 * 24 * 3600},
			map[string]string{"id": "null", "name": "200", "mode": "0 (as soon as possible) or 1", "cron": "end of range (61) above maximum (59)",
				"end": "after start", "duration_seconds": "7 days"}},
		{"planned without start", execution.Request{Mode: 1}, map[string]string{"start": "required"}},
		{"start in the past", execution.Request{Mode: 1, Start: now.Add(-2 * time.Minute)}, map[string]string{"start": "in the past"}},
		{"cron without end", execution.Request{Mode: 1, Cron: "* * * * *", Start: at}, map[string]string{"end": "required with cron"}},
		{"cron as soon as possible", execution.Request{Mode: 0, Cron: "* * * * *"}, map[string]string{"cron": "mode 1"}},
		{"cron fields", execution.Request{Mode: 1, Cron: "* * *", Start: at, End: ptr(at.Add(time.Hour))}, map[string]string{"cron": "expected 5 to 6 fields"}},
		{"negative duration", execution.Request{Mode: 1, Start: at, DurationSeconds: -1}, map[string]string{"duration_seconds": "1 to 604800"}},
		{"over the cap", execution.Request{Mode: 1, Cron: "* * * * * *", Start: at, End: ptr(at.Add(1000 * time.Second))},
			map[string]string{"cron": "fires 1001 times between start and end; at most 1000"}},
		{"far over the cap", execution.Request{Mode: 1, Cron: "* * * * * *", Start: at, End: ptr(at.Add(30 * 24 * time.Hour))},
			map[string]string{"cron": "fires 10000 times or more"}},
		{"never fires", execution.Request{Mode: 1, Cron: "0 0 30 2 *", Start: at, End: ptr(at.Add(24 * time.Hour))}, map[string]string{"cron": "never fires"}},
		{"window too long", execution.Request{Mode: 1, Start: at, End: ptr(at.Add(8 * 24 * time.Hour))}, map[string]string{"end": "longer than 7 days"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Expand(tc.req, now, 5*time.Minute)
			var ae *apierror.Error
			if !errors.As(err, &ae) || ae.Status != 400 {
				t.Fatalf("got %v, want a 400", err)
			}
			fields, _ := ae.Details.([]apierror.FieldError)
			if len(fields) != len(tc.want) {
				t.Errorf("fields = %+v, want %d", fields, len(tc.want))
			}
			for _, f := range fields {
				if want, ok := tc.want[f.Field]; !ok || !strings.Contains(f.Problem, want) {
					t.Errorf("%s: %q, want it to contain %q", f.Field, f.Problem, want)
				}
			}
		})
	}
}

// FuzzRequest decodes a request body as the route does and expands it:
// never a panic, and what is accepted respects every limit.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		`{"id":null,"name":null,"cron":"0-10 30 14 21 11 *","mode":1,"start":"2026-11-21T14:30:00.012Z","end":"2026-12-21T14:30:00.012Z"}`,
		`{"id":null,"name":null,"cron":"","mode":1,"start":"2026-11-21T14:30:00.012Z","end":"2026-12-21T14:30:00.012Z"}`,
		`{"mode":0,"duration_seconds":60}`,
		`{"mode":1,"cron":"*/5 * * * *","start":"2026-11-22T00:00:00Z","end":"2026-11-23T00:00:00Z"}`,
		`{"mode":1,"cron":"@every 1s","start":"2026-11-22T00:00:00Z","end":"2027-11-23T00:00:00Z"}`,
		`{"mode":1,"cron":"0 0 29 2 *","start":"2026-11-22T00:00:00Z","end":"2036-11-23T00:00:00Z"}`,
		`{"mode":1,"start":"2026-11-22T00:00:00Z","end":"2026-11-21T00:00:00Z","id":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r execution.Request
		if err := server.DecodeBytes(body, &r); err != nil {
			if apierror.From(err).Status != 400 && apierror.From(err).Status != 413 {
				t.Fatalf("decode: %v", err)
			}
			return
		}
		p, err := Expand(r, now, 5*time.Minute)
		if err != nil {
			if apierror.From(err).Status != 400 {
				t.Fatalf("expand: %v", err)
			}
			return
		}
		if p.Mode == execution.ASAP {
			if p.Earliest.Before(now) || p.Duration < MinDuration || p.Duration > MaxDuration {
				t.Fatalf("ASAP plan %+v", p)
			}
			return
		}
		if len(p.Windows) == 0 || len(p.Windows) > execution.MaxFirings {
			t.Fatalf("%d windows", len(p.Windows))
		}
		for i, w := range p.Windows {
			if !w.End.After(w.Start) || w.End.Sub(w.Start) > MaxDuration {
				t.Fatalf("window %d: %v", i, w)
			}
			if i > 0 && !w.Start.After(p.Windows[i-1].Start) {
				t.Fatalf("windows out of order at %d", i)
			}
			if w.Start.Before(r.Start.Truncate(time.Second).UTC()) || r.End != nil && r.Cron != "" && w.Start.After(*r.End) {
				t.Fatalf("window %d %v outside [%v, %v]", i, w, r.Start, r.End)
			}
		}
	})
}
