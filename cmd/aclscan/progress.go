package main

import (
	"fmt"
	"io"
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

func startProgressBar(w io.Writer, p *scan.Progress) *progressBar {
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(25),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(false),
	)
	pb := &progressBar{bar: bar, done: make(chan struct{}), quit: make(chan struct{})}
	start := time.Now()
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
				bar.ChangeMax64(max(listed, 1))
				bar.Describe(fmt.Sprintf("listed %d, checked %d, %.0f/s, errors %d", listed, checked, elapsedRate(checked, start), p.Errors.Load()))
				_ = bar.Set64(checked)
			}
		}
	}()
	return pb
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
