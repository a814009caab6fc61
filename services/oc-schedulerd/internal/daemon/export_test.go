package daemon

// Retries is how many executions wait for a retry in this daemon.
func (dm *Daemon) Retries() int {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	return len(dm.wait)
}
