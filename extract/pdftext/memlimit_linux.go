package pdftext

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// limitMemory bounds the process's memory to max bytes beyond what it has
// mapped already. The Go runtime reserves address space at start-up, so the
// hard limit (RLIMIT_AS, which makes further allocations fail and the
// runtime stop with "out of memory") is set above the current virtual size;
// the soft limit (debug.SetMemoryLimit) makes the collector work harder as
// the heap nears max.
func limitMemory(max int64) error {
	debug.SetMemoryLimit(max)
	vsize, err := virtualSize()
	if err != nil {
		return err
	}
	lim := uint64(vsize + max)
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: lim, Max: lim}); err != nil {
		return fmt.Errorf("setting RLIMIT_AS to %d bytes: %w", lim, err)
	}
	return nil
}

// virtualSize returns the process's current virtual memory size in bytes.
func virtualSize() (int64, error) {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, fmt.Errorf("reading the process's memory size: %w", err)
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 0, fmt.Errorf("reading the process's memory size: /proc/self/statm is empty")
	}
	pages, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading the process's memory size: %w", err)
	}
	return pages * int64(os.Getpagesize()), nil
}
