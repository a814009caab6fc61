package booking

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/execution"
)

// Limits of a booking request.
const (
	MinDuration   = time.Second
	MaxDuration   = 7 * 24 * time.Hour
	MaxNameLength = 200
	// PastTolerance is how far in the past a planned start may be (the
	// request travelled, clocks differ).
	PastTolerance = time.Minute
	// countLimit bounds how far firings are counted to report how many a
	// refused cron has.
	countLimit = 10 * execution.MaxFirings
)

// parser reads 5 fields, or 6 with seconds first, or a descriptor (@daily).
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Plan is a validated request: the windows to book (mode planned), or the
// earliest start and length of the one execution to place (mode ASAP).
type Plan struct {
	Mode    execution.Mode
	Name    string // "" : the workflow's name
	Windows []execution.Window
	// ASAP: the execution starts at Earliest or later, lasts Duration, and
	// must end by Deadline (zero: no deadline).
	Earliest time.Time
	Duration time.Duration
	Deadline time.Time
}

// Expand validates a request and expands it into windows, reporting every
// problem at once as a 400 naming the fields. now is the request's time,
// defaultDuration the length of a window the request does not give.
func Expand(r execution.Request, now time.Time, defaultDuration time.Duration) (Plan, error) {
	var bad []apierror.FieldError
	add := func(field, format string, args ...any) {
		bad = append(bad, apierror.FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	now = stamp(now)
	p := Plan{Mode: r.Mode, Duration: defaultDuration}
	if r.ID != nil {
		add("id", "must be null or absent: the scheduler gives ids")
	}
	if r.Name != nil {
		if n := utf8.RuneCountInString(*r.Name); !utf8.ValidString(*r.Name) || n > MaxNameLength {
			add("name", "expected at most %d characters", MaxNameLength)
		}
		p.Name = *r.Name
	}
	if r.Mode != execution.ASAP && r.Mode != execution.Planned {
		add("mode", "expected 0 (as soon as possible) or 1 (planned)")
	}
	switch {
	case r.DurationSeconds < 0 || r.DurationSeconds > int64(MaxDuration/time.Second):
		add("duration_seconds", "expected %d to %d seconds (7 days), or nothing for the default %s", int64(MinDuration/time.Second), int64(MaxDuration/time.Second), defaultDuration)
	case r.DurationSeconds > 0:
		p.Duration = time.Duration(r.DurationSeconds) * time.Second
	}
	start, end := stamp(r.Start), time.Time{}
	if r.End != nil {
		end = stamp(*r.End)
		if !r.Start.IsZero() && !end.After(start) {
			add("end", "must be after start")
		}
	}
	var sched cron.Schedule
	if r.Cron != "" {
		s, err := parser.Parse(r.Cron)
		if err != nil {
			add("cron", "expected 5 fields (minute hour day month weekday) or 6 with seconds first, in UTC: %s", err)
		}
		sched = s
		if r.Mode == execution.ASAP {
			add("cron", "not used as soon as possible (mode 0): send mode 1 to book each firing")
		}
	}
	if r.Mode == execution.Planned {
		switch {
		case r.Start.IsZero():
			add("start", "required when mode is 1 (planned): the first execution's time, RFC 3339")
		case start.Before(now.Add(-PastTolerance)):
			add("start", "is in the past (%s); give a time from now on", start.Format(time.RFC3339))
		}
		if r.Cron != "" && r.End == nil {
			add("end", "required with cron: the end of the range of firings")
		}
	}
	if len(bad) > 0 {
		return Plan{}, apierror.Invalid(bad...)
	}

	if r.Mode == execution.ASAP {
		p.Earliest = start
		if p.Earliest.Before(now) {
			p.Earliest = now
		}
		p.Deadline = end
		if !end.IsZero() && p.Earliest.Add(p.Duration).After(end) {
			return Plan{}, apierror.Invalid(apierror.FieldError{Field: "end",
				Problem: fmt.Sprintf("leaves less than the execution's %s after the earliest start %s", p.Duration, p.Earliest.Format(time.RFC3339))})
		}
		return p, nil
	}
	if sched == nil {
		w := execution.Window{Start: start, End: start.Add(p.Duration)}
		if r.End != nil {
			w.End = end
			if end.Sub(start) > MaxDuration {
				return Plan{}, apierror.Invalid(apierror.FieldError{Field: "end",
					Problem: "the window from start to end is longer than 7 days; book a shorter one or use cron"})
			}
		}
		p.Windows = []execution.Window{w}
		return p, nil
	}
	// Cron has second resolution: a start within a second (a load script
	// may send .012) still counts that second's firing.
	at := start.Truncate(time.Second).Add(-time.Nanosecond)
	for {
		at = sched.Next(at)
		if at.IsZero() || at.After(end) {
			break
		}
		if len(p.Windows) >= countLimit {
			return Plan{}, apierror.Invalid(apierror.FieldError{Field: "cron",
				Problem: fmt.Sprintf("fires %d times or more between start and end; at most %d executions per request: narrow the range or the expression", countLimit, execution.MaxFirings)})
		}
		p.Windows = append(p.Windows, execution.Window{Start: at, End: at.Add(p.Duration)})
	}
	switch n := len(p.Windows); {
	case n == 0:
		return Plan{}, apierror.Invalid(apierror.FieldError{Field: "cron", Problem: "never fires between start and end (UTC); check the expression and the range"})
	case n > execution.MaxFirings:
		return Plan{}, apierror.Invalid(apierror.FieldError{Field: "cron",
			Problem: fmt.Sprintf("fires %d times between start and end; at most %d executions per request: narrow the range or the expression", n, execution.MaxFirings)})
	}
	return p, nil
}

func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }
