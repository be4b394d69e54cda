//go:build integration

package soak

import (
	"context"
	"testing"
	"time"
)

// A short soak (12 scans; tools/soak runs the long one): scans under
// periodic connection resets leave no goroutine, file or heap growth
// behind, and never lose or fail a key (Run checks every scan).
func TestIntegrationSoakNoLeaks(t *testing.T) {
	// A number of scans, not a time: under the race detector, with other
	// test packages on the same cores, a scan takes several times longer.
	res, err := RunLocal(context.Background(), Local{
		Objects: 1000, Concurrency: 64, MinScans: 12,
		ResetEvery: 300 * time.Millisecond, ResetFor: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Retries == 0 {
		t.Fatalf("%d scans, no retry: the resets missed the scans", res.Scans)
	}
	first, last, g := res.Growth()
	t.Logf("%d scans, %d retries; baseline %+v; first %+v; last %+v", res.Scans, res.Retries, res.Baseline, first, last)
	// Idle connections are closed before each sample: what is left is
	// the process's own (signal handling, the GC, the HTTP client's).
	if g.Goroutines > 0 || last.Goroutines > res.Baseline.Goroutines+2 {
		t.Errorf("goroutines grew: baseline %d, first scans %d, last %d", res.Baseline.Goroutines, first.Goroutines, last.Goroutines)
	}
	if g.OpenFiles > 0 || last.OpenFiles > res.Baseline.OpenFiles+2 {
		t.Errorf("open files grew: baseline %d, first scans %d, last %d", res.Baseline.OpenFiles, first.OpenFiles, last.OpenFiles)
	}
	if g.HeapInuse > 4<<20 {
		t.Errorf("heap in use grew by %d bytes", g.HeapInuse)
	}
}
