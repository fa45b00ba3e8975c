package memreport

import (
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// talloc_report_full's line layout, without its "(ref N) 0xADDR" tail.
var (
	reportHeader = regexp.MustCompile(`^full talloc report on '([^']*)' \(total +(\d+) bytes in +(\d+) blocks\)$`)
	reportLine   = regexp.MustCompile(`^((?:    )+)(.{30,}?) contains +(\d+) bytes in +(\d+) blocks$`)
)

func TestMemoryReportLayout(t *testing.T) {
	var ms runtime.MemStats
	ms.HeapAlloc, ms.HeapObjects, ms.StackInuse = 10000, 30, 8192
	ms.BySize[1].Size, ms.BySize[1].Mallocs, ms.BySize[1].Frees = 16, 25, 5  // 20 live: 320 bytes
	ms.BySize[2].Size, ms.BySize[2].Mallocs, ms.BySize[2].Frees = 1024, 8, 0 // 8 live: 8192 bytes
	ms.BySize[3].Size, ms.BySize[3].Mallocs, ms.BySize[3].Frees = 32, 4, 4   // none live
	got := Report("root", &ms, 2)
	want := "full talloc report on 'root' (total  18192 bytes in  32 blocks)\n" +
		"    heap objects                   contains  10000 bytes in  30 blocks\n" +
		"        objects of 1024 bytes          contains   8192 bytes in   8 blocks\n" +
		"        large objects                  contains   1488 bytes in   2 blocks\n" +
		"        objects of 16 bytes            contains    320 bytes in  20 blocks\n" +
		"    goroutine stacks               contains   8192 bytes in   2 blocks\n"
	if got != want {
		t.Errorf("report:\n%s\nwant:\n%s", got, want)
	}
}

// TestCurrentMemoryReport: the live report parses as a talloc report and
// each level's entries add up to their parent.
func TestCurrentMemoryReport(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(Current("rctdb test"), "\n"), "\n")
	h := reportHeader.FindStringSubmatch(lines[0])
	if h == nil || h[1] != "rctdb test" {
		t.Fatalf("header %q", lines[0])
	}
	total, _ := strconv.ParseUint(h[2], 10, 64)
	var top, heap, classes uint64
	for _, l := range lines[1:] {
		m := reportLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q is not in talloc's layout", l)
		}
		n, _ := strconv.ParseUint(m[3], 10, 64)
		switch depth := len(m[1]) / 4; {
		case depth == 1:
			top += n
			if strings.TrimSpace(m[2]) == "heap objects" {
				heap = n
			}
		default:
			classes += n
		}
	}
	if top != total || classes != heap || heap == 0 {
		t.Errorf("total %d, top level sums to %d; heap %d, its classes sum to %d", total, top, heap, classes)
	}
}
