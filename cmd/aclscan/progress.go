package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aclscan/aclscan/scan"
	"github.com/schollz/progressbar/v3"
)

// progressBar redraws the scan's counters on a terminal.
type progressBar struct {
	bar  *progressbar.ProgressBar
	done chan struct{}
	quit chan struct{}
}

// retryStats is what the client counts beyond the engine's progress.
type retryStats interface {
	Retries() int64
	Throttles() int64
	ConcurrencyLimit() int
}

func startProgressBar(w io.Writer, p *scan.Progress, client retryStats) *progressBar {
	// The bar has no total: it spins, and the description gives the
	// percentage and the time left once the total is known.
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(25),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetElapsedTime(true),
	)
	pb := &progressBar{bar: bar, done: make(chan struct{}), quit: make(chan struct{})}
	start := time.Now()
	base := p.Checked.Load() // a resumed scan starts with earlier counts
	go func() {
		defer close(pb.done)
		tick := time.NewTicker(150 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-pb.quit:
				return
			case <-tick.C:
				listed, checked := p.Listed.Load(), p.Checked.Load()
				rate := elapsedRate(checked-base, start)
				desc := describeProgress(p, listed, checked, rate) + fmt.Sprintf(", %.0f/s, errors %d, retries %d", rate, p.Errors.Load(), client.Retries())
				if n := client.Throttles(); n > 0 {
					desc += fmt.Sprintf(" (%d throttled, in flight <= %d)", n, client.ConcurrencyLimit())
				}
				if p.Waiting.Load() {
					desc += "; endpoint not answering, waiting (--outage-wait)"
				}
				bar.Describe(desc)
				_ = bar.Set64(checked)
			}
		}
	}()
	return pb
}

// describeProgress is the count of what is done and, once the total is
// known (the listing done, or the buckets counted), how much is left: no
// percentage is shown while the total is still growing.
func describeProgress(p *scan.Progress, listed, checked int64, rate float64) string {
	var b strings.Builder
	if total := p.BucketsTotal.Load(); total > 0 {
		fmt.Fprintf(&b, "buckets %d/%d (%d%%), ", p.BucketsDone.Load(), total, 100*p.BucketsDone.Load()/total)
	}
	if !p.ListingDone.Load() || listed == 0 {
		fmt.Fprintf(&b, "listed %d, checked %d", listed, checked)
		return b.String()
	}
	fmt.Fprintf(&b, "checked %d of %d (%d%%)", checked, listed, 100*checked/listed)
	if left := listed - checked; left > 0 && rate > 0 {
		fmt.Fprintf(&b, ", about %s left", time.Duration(float64(left)/rate*float64(time.Second)).Round(time.Second))
	}
	return b.String()
}

// stop removes the bar; it is safe on a nil bar.
func (pb *progressBar) stop() {
	if pb == nil {
		return
	}
	close(pb.quit)
	<-pb.done
	_ = pb.bar.Clear()
}

// elapsedRate is objects per second since start.
func elapsedRate(n int64, start time.Time) float64 {
	d := time.Since(start).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(n) / d
}
