//go:build !linux

package pdftext

import "runtime/debug"

// limitMemory sets only the Go runtime's soft memory limit: outside Linux
// there is no portable hard limit on address space to set here.
func limitMemory(max int64) error {
	debug.SetMemoryLimit(max)
	return nil
}
