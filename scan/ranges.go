package scan

import (
	"fmt"
	"sync"
)

// keyRange is one part of the keyspace, listed by one chain of requests.
// It also tracks which of its listed entries have been reported, so that
// a checkpoint can say where the range stands: everything up to the
// watermark, plus the entries marked done beyond it.
type keyRange struct {
	mu      sync.Mutex
	until   string // inclusive; shrinks when the range is split
	bounded bool
	// watermark: every entry with a key <= watermark is reported ("" =
	// none yet, the range starts at its original after).
	watermark string
	// entries[head:] are listed and not yet behind the watermark, in
	// listing order; entries[i] has sequence number base+i.
	entries []rangeEntry
	head    int
	base    int64
	// listed is set when the chain has listed the whole range.
	listed bool
	// last is the last key listed (at first, the key the range starts
	// after); started is set once a key was listed.
	last    string
	started bool
	// versioned: entries are versions, and one key's may span pages.
	versioned bool
	// markers counts the delete markers listed in this range.
	markers int64
	// skip holds entries a resumed checkpoint says are done.
	skip map[Position]struct{}
}

type rangeEntry struct {
	pos  Position
	done bool
}

func newKeyRange(st RangeState) *keyRange {
	r := &keyRange{watermark: st.After, last: st.After, until: st.Until, bounded: st.Bounded}
	if len(st.Done) > 0 {
		r.skip = make(map[Position]struct{}, len(st.Done))
		for _, p := range st.Done {
			r.skip[p] = struct{}{}
		}
	}
	return r
}

// add records a listed entry and says what to do with it: beyond means
// the key lies above the range's bound (the next range lists it); fresh
// is false for an entry a resumed checkpoint already reported, and for a
// delete marker, both recorded as done. A key that does not come after
// the previous one is an error: a server listing out of order would make
// ranges overlap.
func (r *keyRange) add(pos Position, marker, versioned bool) (seq int64, fresh, beyond bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if pos.Key < r.last || (pos.Key == r.last && (!versioned || !r.started)) {
		return 0, false, false, fmt.Errorf("the server listed %q after %q, out of order", pos.Key, r.last)
	}
	if r.bounded && pos.Key > r.until {
		return 0, false, true, nil
	}
	r.last, r.started, r.versioned = pos.Key, true, versioned
	done := marker
	if r.skip != nil {
		if _, ok := r.skip[pos]; ok {
			delete(r.skip, pos)
			done, marker = true, false // counted before the checkpoint
		}
	}
	if marker {
		r.markers++
	}
	seq = r.base + int64(len(r.entries))
	r.entries = append(r.entries, rangeEntry{pos: pos, done: done})
	if done {
		r.advance()
	}
	return seq, !done, false, nil
}

// start is the key the range's listing begins after.
func (r *keyRange) start() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.watermark
}

// bounds returns the range's current upper bound.
func (r *keyRange) bounds() (until string, bounded bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.until, r.bounded
}

// Reported records that the entry seq has been reported (scan.Tracker).
func (r *keyRange) Reported(seq int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries[seq-r.base].done = true
	r.advance()
}

// finishListing records that no more entries will be added.
func (r *keyRange) finishListing() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listed = true
	r.advance()
}

// advance moves the watermark past every leading group of done entries
// with the same key. A group is complete only once a later key has been
// listed (or the listing ended): versions of one key may span pages, and
// a resumed listing restarts after a whole key.
func (r *keyRange) advance() {
	n := r.head
groups:
	for n < len(r.entries) {
		key := r.entries[n].pos.Key
		j := n
		for ; j < len(r.entries) && r.entries[j].pos.Key == key; j++ {
			if !r.entries[j].done {
				break groups
			}
		}
		if j == len(r.entries) && r.versioned && !r.listed {
			break // more versions of key may follow
		}
		r.watermark = key
		n = j
	}
	r.head = n
	// Drop the reported entries without copying the ones in flight on
	// every call: only once they are the larger part of the array.
	switch {
	case r.head == len(r.entries):
		r.base += int64(r.head)
		r.entries, r.head = r.entries[:0], 0
	case r.head >= 1024 && r.head >= len(r.entries)/2:
		r.base += int64(r.head)
		r.entries = append(r.entries[:0], r.entries[r.head:]...)
		r.head = 0
	}
}

// state is the range as a checkpoint keeps it, its delete markers, and
// whether it is listed and fully reported.
func (r *keyRange) state() (st RangeState, markers int64, finished bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st = RangeState{After: r.watermark, Until: r.until, Bounded: r.bounded}
	for _, e := range r.entries[r.head:] {
		if e.done {
			st.Done = append(st.Done, e.pos)
		}
	}
	for p := range r.skip {
		st.Done = append(st.Done, p)
	}
	return st, r.markers, r.listed && r.head == len(r.entries)
}

// rangeSet hands ranges to listing chains, splits busy ranges when chains
// are idle, and knows every range not yet fully reported.
type rangeSet struct {
	mu      sync.Mutex
	cond    *sync.Cond
	waiting []*keyRange // not yet taken by a chain
	live    []*keyRange // taken or waiting, not yet finished
	active  int         // ranges being listed
	chains  int         // chains running or about to: each takes ranges until none is left
	stopped bool
	// finishedMarkers counts the delete markers of ranges dropped from live.
	finishedMarkers int64
}

func newRangeSet(initial []RangeState) *rangeSet {
	rs := &rangeSet{}
	rs.cond = sync.NewCond(&rs.mu)
	for _, st := range initial {
		r := newKeyRange(st)
		rs.waiting = append(rs.waiting, r)
		rs.live = append(rs.live, r)
	}
	return rs
}

// addChains counts n chains about to call take: a chain not scheduled yet
// is as idle as one waiting, and a split must count it.
func (rs *rangeSet) addChains(n int) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.chains += n
}

// take waits for a range to list; nil means the listing is over, and the
// chain ends.
func (rs *rangeSet) take() *keyRange {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for len(rs.waiting) == 0 && rs.active > 0 && !rs.stopped {
		rs.cond.Wait()
	}
	if rs.stopped || len(rs.waiting) == 0 {
		rs.chains--
		rs.cond.Broadcast()
		return nil
	}
	r := rs.waiting[0]
	rs.waiting = rs.waiting[1:]
	rs.active++
	return r
}

// release ends a chain's work on the range it took.
func (rs *rangeSet) release() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.active--
	rs.cond.Broadcast()
}

// stop makes every chain return (on an error or cancellation).
func (rs *rangeSet) stop() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.stopped = true
	rs.cond.Broadcast()
}

// idleChains is how many chains wait (or will) for work no range offers.
func (rs *rangeSet) idleChains() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.chains - rs.active - len(rs.waiting)
}

// split cuts r after its current position at the given points (sorted,
// all above the keys r has listed and below its bound): r keeps the first
// slice, the others become new ranges for idle chains.
func (rs *rangeSet) split(r *keyRange, points []string) {
	if len(points) == 0 {
		return
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r.mu.Lock()
	until, bounded := r.until, r.bounded
	r.until, r.bounded = points[0], true
	r.mu.Unlock()
	for i, p := range points {
		st := RangeState{After: p, Until: until, Bounded: bounded}
		if i+1 < len(points) {
			st.Until, st.Bounded = points[i+1], true
		}
		nr := newKeyRange(st)
		rs.waiting = append(rs.waiting, nr)
		rs.live = append(rs.live, nr)
	}
	rs.cond.Broadcast()
}

// snapshot returns the state of every unfinished range and the delete
// markers counted so far, dropping finished ranges.
func (rs *rangeSet) snapshot() ([]RangeState, int64) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	markers := rs.finishedMarkers
	states := make([]RangeState, 0, len(rs.live))
	kept := rs.live[:0]
	for _, r := range rs.live {
		st, m, finished := r.state()
		if finished {
			rs.finishedMarkers += m
			markers += m
			continue
		}
		markers += m
		kept = append(kept, r)
		states = append(states, st)
	}
	clear(rs.live[len(kept):])
	rs.live = kept
	return states, markers
}
