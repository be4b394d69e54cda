package scan

import (
	"context"
	"errors"
	"sync"
	"time"
)

// BucketScan is one bucket of a run over many: the client for its region
// and its configuration (Bucket set; Resume, Checkpoint and the
// checkpoint interval are the run's, not the bucket's).
type BucketScan struct {
	API    API
	Config Config
	// Region is the bucket's region, for its summary.
	Region string
	// Group names the buckets that run together (an account's): with
	// Buckets.GroupsAtOnce, at most that many groups have buckets running.
	Group string
}

// Buckets is a run over many buckets (an account's): they are scanned a
// few at a time into one sink, under one bound on requests in flight,
// and a bucket that cannot be scanned does not stop the others.
type Buckets struct {
	Scans []BucketScan
	// Parallel is how many buckets are scanned at once (0 = 4).
	Parallel int
	// InFlight bounds the object requests in flight across the buckets
	// (0 = each bucket's own bound only).
	InFlight int
	// Resume holds the state of each bucket a checkpoint had started,
	// by name; buckets it does not hold start from scratch.
	Resume map[string]*State
	// Checkpoint, when set, is called with the state of every bucket
	// started so far, consistent with everything given to the sink.
	Checkpoint         func([]State) error
	CheckpointInterval time.Duration
	// GroupsAtOnce bounds the groups (accounts) with buckets running at
	// once (0: no bound); Scans must list each group's buckets together.
	GroupsAtOnce int
}

// DefaultParallelBuckets is how many buckets are scanned at once.
const DefaultParallelBuckets = 4

// RunBuckets scans every bucket of b into sink. It returns one summary
// per bucket, in b.Scans' order (nil for a bucket not started); a
// bucket's own failure is its summary's Error. The error is what stopped
// the whole run: an interruption, or a sink or checkpoint that failed.
func RunBuckets(ctx context.Context, b Buckets, sink Sink, progress *Progress) ([]*Summary, error) {
	if progress == nil {
		progress = new(Progress)
	}
	parallel := b.Parallel
	if parallel <= 0 {
		parallel = DefaultParallelBuckets
	}
	m := &multiRun{running: map[string]func() *State{}, final: map[string]*State{}, save: b.Checkpoint}
	if b.InFlight > 0 {
		m.slots = make(chan struct{}, b.InFlight)
	}
	for _, sc := range b.Scans {
		m.order = append(m.order, sc.Config.Bucket)
		if st := b.Resume[sc.Config.Bucket]; st != nil {
			m.final[sc.Config.Bucket] = st // until the bucket runs again
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sums := make([]*Summary, len(b.Scans))
	progress.BucketsTotal.Store(int64(len(b.Scans)))
	var runErr error
	var errOnce sync.Once
	queue := make(chan int)
	groups := newGroupGate(b)
	var wg sync.WaitGroup
	for range min(parallel, len(b.Scans)) {
		wg.Go(func() {
			for i := range queue {
				sc := b.Scans[i]
				cfg := sc.Config
				cfg.multi = m
				cfg.Resume = b.Resume[cfg.Bucket]
				cfg.CheckpointInterval = b.CheckpointInterval
				cfg.Checkpoint = nil
				if b.Checkpoint != nil {
					cfg.Checkpoint = m.checkpoint(cfg.Bucket)
				}
				sum, err := Run(ctx, sc.API, cfg, sink, progress)
				if sum == nil {
					sum = &Summary{Bucket: cfg.Bucket, Prefix: cfg.Prefix}
				}
				sum.Region = sc.Region
				var bucketErr *Error
				switch {
				case err == nil:
				case errors.As(err, &bucketErr) && ctx.Err() == nil:
					// This bucket's own failure: the others go on.
					sum.Failure = bucketErr
				default:
					sum.Failure = &Error{Op: "scan bucket " + cfg.Bucket, Err: err}
					errOnce.Do(func() { runErr = err; cancel() })
				}
				sums[i] = sum
				progress.BucketsDone.Add(1)
				groups.done(sc.Group)
			}
		})
	}
	for i := range b.Scans {
		if !groups.enter(ctx, b.Scans[i].Group) {
			break
		}
		select {
		case queue <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(queue)
	wg.Wait()
	if runErr == nil && ctx.Err() != nil {
		runErr = ctx.Err()
	}
	return sums, runErr
}

// multiRun is what the buckets of one RunBuckets share.
type multiRun struct {
	// mu is held while a bucket records a result or takes a checkpoint:
	// every other bucket's state then matches what the sink has.
	mu      sync.Mutex
	slots   chan struct{} // the bound on requests in flight, nil for none
	order   []string
	running map[string]func() *State
	final   map[string]*State
	save    func([]State) error
}

func (m *multiRun) started(bucket string, state func() *State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.running[bucket] = state
}

// finished records a bucket's last state; the caller holds mu.
func (m *multiRun) finished(bucket string, st *State) {
	delete(m.running, bucket)
	m.final[bucket] = st
}

// checkpoint is a bucket's Checkpoint hook: the caller holds mu (record,
// or the end of Run), so every running bucket's state can be taken.
func (m *multiRun) checkpoint(bucket string) func(*State) error {
	return func(own *State) error {
		states := make([]State, 0, len(m.order))
		for _, name := range m.order {
			switch {
			case name == bucket:
				states = append(states, *own)
			case m.running[name] != nil:
				states = append(states, *m.running[name]())
			case m.final[name] != nil:
				states = append(states, *m.final[name])
			}
		}
		return m.save(states)
	}
}

// lockWriter takes the write lock of a multi-bucket run (a no-op alone)
// and returns its release.
func (s *scanner) lockWriter() func() {
	if s.cfg.multi == nil {
		return func() {}
	}
	s.cfg.multi.mu.Lock()
	return s.cfg.multi.mu.Unlock
}

// gate is the shared bound on requests in flight, nil when there is none.
func (cfg *Config) gate() chan struct{} {
	if cfg.multi == nil {
		return nil
	}
	return cfg.multi.slots
}

// groupGate lets at most GroupsAtOnce groups have buckets queued or
// running: a group takes a place when its first bucket is queued and
// gives it back when its last one ends.
type groupGate struct {
	places  chan struct{} // nil: no bound
	mu      sync.Mutex
	left    map[string]int // buckets of each group not ended
	current string
}

func newGroupGate(b Buckets) *groupGate {
	g := &groupGate{left: map[string]int{}}
	if b.GroupsAtOnce <= 0 {
		return g
	}
	g.places = make(chan struct{}, b.GroupsAtOnce)
	for _, sc := range b.Scans {
		g.left[sc.Group]++
	}
	return g
}

// enter waits for a place when group is a new one; false if ctx ended.
func (g *groupGate) enter(ctx context.Context, group string) bool {
	if g.places == nil || group == g.current {
		return true
	}
	g.current = group
	select {
	case g.places <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// done counts one of group's buckets ended, freeing its place after the last.
func (g *groupGate) done(group string) {
	if g.places == nil {
		return
	}
	g.mu.Lock()
	g.left[group]--
	last := g.left[group] == 0
	g.mu.Unlock()
	if last {
		<-g.places
	}
}
