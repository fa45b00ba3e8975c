package transport

import (
	"net"
	"sync"
	"time"
)

// refusalLog rate-limits the logging of refused connections per remote
// host: a refused node redials every second, and its refusal should be
// told once, not fill the log. A new reason from the same host is told at
// once; the same reason again after every, with how many went unlogged.
type refusalLog struct {
	every time.Duration

	mu   sync.Mutex
	last map[string]*refusal // by remote host
}

type refusal struct {
	at      time.Time
	reason  string
	skipped int
}

// maxRefusalHosts bounds the hosts remembered; past it, entries older
// than every are dropped.
const maxRefusalHosts = 1024

// note records a refusal of host for reason and reports whether to log it
// now, and how many refusals of host were not logged since the last one.
func (r *refusalLog) note(host, reason string, now time.Time) (log bool, skipped int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = make(map[string]*refusal)
	}
	if e, ok := r.last[host]; ok && e.reason == reason && now.Sub(e.at) < r.every {
		e.skipped++
		return false, 0
	}
	if len(r.last) >= maxRefusalHosts {
		for h, e := range r.last {
			if now.Sub(e.at) >= r.every {
				delete(r.last, h)
			}
		}
	}
	if e, ok := r.last[host]; ok {
		skipped = e.skipped
	}
	r.last[host] = &refusal{at: now, reason: reason}
	return true, skipped
}

// hostOf is the host part of a remote address ("10.0.0.1:4321").
func hostOf(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}
