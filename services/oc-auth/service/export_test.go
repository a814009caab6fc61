package service

import "time"

// WithClock returns c with the clock of sessions, authorization requests
// and tokens set to now, so that tests can move past expiries.
func WithClock(c Config, now func() time.Time) Config {
	c.now = now
	return c
}
