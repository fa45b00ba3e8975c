package memreport

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strings"
)

// Report renders the Go runtime's memory statistics in the layout of
// the talloc report ctdbd answers DUMP_MEMORY with, so that an admin's
// habits (and scripts that sum the "contains N bytes in M blocks" lines)
// keep working. ctdbd's report is a tree of its talloc allocations by
// type; Go keeps no owner per allocation, so the tree here is: the live
// heap objects, split by the runtime's size classes (largest share first),
// and the goroutine stacks. The root's total is their sum. Memory the
// runtime holds for reuse or for its own bookkeeping is not an allocation
// of the daemon and is left out, as talloc's own overhead is left out of
// ctdbd's report. talloc's "(ref N) 0xADDRESS" tail is omitted: there are
// no references and no stable addresses to show.
func Report(root string, ms *runtime.MemStats, goroutines int) string {
	type entry struct {
		name          string
		bytes, blocks uint64
	}
	var classes []entry
	var classBytes, classBlocks uint64
	for _, c := range ms.BySize {
		if c.Mallocs <= c.Frees {
			continue
		}
		live := c.Mallocs - c.Frees
		classes = append(classes, entry{fmt.Sprintf("objects of %d bytes", c.Size), live * uint64(c.Size), live})
		classBytes += live * uint64(c.Size)
		classBlocks += live
	}
	// Objects larger than the largest size class are counted in the heap
	// totals only.
	if ms.HeapAlloc > classBytes && ms.HeapObjects > classBlocks {
		classes = append(classes, entry{"large objects", ms.HeapAlloc - classBytes, ms.HeapObjects - classBlocks})
	}
	slices.SortStableFunc(classes, func(a, b entry) int { return cmp.Compare(b.bytes, a.bytes) })

	stacks := entry{"goroutine stacks", ms.StackInuse, uint64(goroutines)}
	heap := entry{"heap objects", ms.HeapAlloc, ms.HeapObjects}
	var b strings.Builder
	fmt.Fprintf(&b, "full talloc report on '%s' (total %6d bytes in %3d blocks)\n",
		root, heap.bytes+stacks.bytes, heap.blocks+stacks.blocks)
	line := func(depth int, e entry) {
		fmt.Fprintf(&b, "%*s%-30s contains %6d bytes in %3d blocks\n", depth*4, "", e.name, e.bytes, e.blocks)
	}
	line(1, heap)
	for _, c := range classes {
		line(2, c)
	}
	line(1, stacks)
	return b.String()
}

// Current is Report of this process now.
func Current(root string) string {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return Report(root, &ms, runtime.NumGoroutine())
}
