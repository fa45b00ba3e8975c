// Package netnsrun runs a function inside a network namespace without
// letting the namespace leak to other goroutines: the function runs on a
// fresh OS thread locked to its goroutine, and that thread is handed back
// to the runtime only once it is in its own namespace again (else it ends
// with the goroutine, and the runtime discards it). Sockets created inside
// stay in that namespace for their whole life, whichever thread uses them
// later. It imports nothing of ours.
package netnsrun
