// Package memreport renders the Go runtime's memory statistics in the
// layout of the talloc report ctdbd 4.17 answers DUMP_MEMORY with, so that
// `ctdb dumpmemory` and scripts that read its lines keep working.
package memreport
