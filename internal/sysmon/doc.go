// Package sysmon keeps the Go runtime's monitor thread (sysmon) from its
// deep sleep in the daemon, because that sleep costs a thread wake-up per
// packet.
//
// When every P of the runtime is idle, sysmon sleeps on a note until the
// next timer. The first system call that follows (the read of the packet
// that ended the idle moment) wakes it again: a futex wake on the packet's
// own path, then a few 20 µs naps of sysmon on the same two CPUs before it
// finds everything idle and sleeps once more. A daemon that idles between
// packets, as a node of a latency-bound cluster does, pays that on every
// packet: in the message ring sysmon's thread made 40 % of the daemon's
// context switches (0.77 of 1.9 per message). The runtime skips the deep
// sleep only when GODEBUG's schedtrace is set, so KeepAwake starts the
// program again with schedtrace at its largest period (2^31-1 ms, 24.8
// days): sysmon then naps 20 µs to 10 ms by its own backoff and nothing
// wakes it. The trace it exists for is one line on standard error per 24.8
// days of the machine's uptime.
package sysmon
