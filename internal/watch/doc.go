// Package watch holds the one change-notification primitive of rctdb:
// Signal, a broadcast whose waiters hold a channel that the next Notify
// closes, and Index, a number that only grows and can be waited for.
//
// Every "close and replace a channel to tell waiters something changed"
// in the tree is a Signal, so that the subtle parts (take the channel
// before reading the state it guards, never close twice, no allocation
// while nobody waits) are written once.
package watch
