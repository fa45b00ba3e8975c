package transport

import "sync"

// eventQueue delivers link events to the handler from one goroutine, in
// order, without ever blocking the goroutine that raises them.
type eventQueue struct {
	mu     sync.Mutex
	queue  []linkEvent
	wake   chan struct{}
	closed bool
}

type linkEvent struct {
	pnn uint32
	up  bool
}

func newEventQueue() *eventQueue { return &eventQueue{wake: make(chan struct{}, 1)} }

func (q *eventQueue) push(e linkEvent) {
	q.mu.Lock()
	if !q.closed {
		q.queue = append(q.queue, e)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run delivers events until done is closed.
func (q *eventQueue) run(h Handler, done <-chan struct{}) {
	for {
		select {
		case <-done:
			q.mu.Lock()
			q.closed = true
			q.mu.Unlock()
			return
		case <-q.wake:
		}
		q.mu.Lock()
		batch := q.queue
		q.queue = nil
		q.mu.Unlock()
		for _, e := range batch {
			if e.up {
				h.PeerConnected(e.pnn)
			} else {
				h.PeerDisconnected(e.pnn)
			}
		}
	}
}
