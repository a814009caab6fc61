package daemon

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the daemon's Prometheus figures: the RAM study of the
// original OpenCloud documentation plots monitord memory against the
// number of workers.
type Metrics struct {
	Workers   prometheus.Gauge
	Launches  prometheus.Counter
	TakeOvers prometheus.Counter
}

// NewMetrics registers the daemon's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Workers: prometheus.NewGauge(prometheus.GaugeOpts{Name: "oc_schedulerd_workers",
			Help: "monitord workers this daemon runs now"}),
		Launches: prometheus.NewCounter(prometheus.CounterOpts{Name: "oc_schedulerd_launches_total",
			Help: "monitord workers launched"}),
		TakeOvers: prometheus.NewCounter(prometheus.CounterOpts{Name: "oc_schedulerd_takeovers_total",
			Help: "executions taken over after their worker stopped"}),
	}
	reg.MustRegister(m.Workers, m.Launches, m.TakeOvers)
	return m
}

func (m *Metrics) observe(dm *Daemon) {
	dm.mu.Lock()
	n := len(dm.active)
	dm.mu.Unlock()
	m.Workers.Set(float64(n))
}
