package scan

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/aclscan/aclscan/internal/testkit/fakes3"
)

func TestRangeWatermark(t *testing.T) {
	t.Parallel()
	type step struct {
		add    *Position // list this entry (nil: mark seq done)
		marker bool
		done   int64 // seq to mark done when add is nil
	}
	pos := func(k, v string) *Position { return &Position{Key: k, Version: v} }
	tests := []struct {
		name          string
		versioned     bool
		steps         []step
		listed        bool
		wantWatermark string
		wantDone      []Position
	}{
		{
			name:          "objects done out of order",
			steps:         []step{{add: pos("a", "")}, {add: pos("b", "")}, {add: pos("c", "")}, {done: 2}, {done: 0}},
			wantWatermark: "a",
			wantDone:      []Position{{Key: "c"}},
		},
		{
			name:          "objects all done",
			steps:         []step{{add: pos("a", "")}, {add: pos("b", "")}, {done: 1}, {done: 0}},
			wantWatermark: "b",
		},
		{
			// The last key's versions may continue on the next page: the
			// watermark waits for a later key.
			name:          "versions of the last key",
			versioned:     true,
			steps:         []step{{add: pos("a", "2")}, {add: pos("a", "1")}, {done: 0}, {done: 1}},
			wantWatermark: "",
			wantDone:      []Position{{Key: "a", Version: "2"}, {Key: "a", Version: "1"}},
		},
		{
			name:          "versions then a later key",
			versioned:     true,
			steps:         []step{{add: pos("a", "2")}, {add: pos("a", "1"), marker: true}, {add: pos("b", "1")}, {done: 0}},
			wantWatermark: "a",
		},
		{
			name:          "versions listed to the end",
			versioned:     true,
			steps:         []step{{add: pos("a", "2")}, {add: pos("a", "1")}, {done: 1}, {done: 0}},
			listed:        true,
			wantWatermark: "a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newKeyRange(RangeState{})
			for _, s := range tt.steps {
				if s.add != nil {
					if _, _, _, err := r.add(*s.add, s.marker, tt.versioned); err != nil {
						t.Fatal(err)
					}
					continue
				}
				r.Reported(s.done)
			}
			if tt.listed {
				r.finishListing()
			}
			st, _, _ := r.state()
			if st.After != tt.wantWatermark || !slices.Equal(st.Done, tt.wantDone) {
				t.Errorf("state after=%q done=%v, want after=%q done=%v", st.After, st.Done, tt.wantWatermark, tt.wantDone)
			}
		})
	}
}

// A scan stopped part-way and resumed from its last checkpoint reports
// every key exactly once across the two runs, and its counts add up.
func TestResumeAfterInterruption(t *testing.T) {
	t.Parallel()
	for _, strategy := range []Strategy{Serial, Pool} {
		t.Run(strategy.String(), func(t *testing.T) {
			fake := fakeWithKeys(1500)
			fake.ObjectACL["k/00007"] = fakes3.Answer{Status: 403, Body: fakes3.ErrorXML("AccessDenied")}
			fake.PageSize = 100
			client := fake.client(t)
			seen := map[string]int{}
			var saved []byte
			checkpoint := func(st *State) error {
				b, err := json.Marshal(st) // a checkpoint goes through a file
				saved = b
				return err
			}
			ctx, cancel := context.WithCancel(context.Background())
			first := SinkFunc(func(r *Result) error {
				seen[r.Key]++
				if len(seen) == 700 {
					cancel()
				}
				return nil
			})
			cfg := Config{Bucket: "b", Strategy: strategy, Concurrency: 16, ListConcurrency: 4, Checkpoint: checkpoint}
			sum1, err := Run(ctx, client, cfg, first, nil)
			if err == nil || sum1.Complete {
				t.Fatalf("first run: err %v complete %v, want interrupted", err, sum1.Complete)
			}
			var st State
			if err := json.Unmarshal(saved, &st); err != nil {
				t.Fatal(err)
			}
			if st.Objects != int64(len(seen)) {
				t.Fatalf("checkpoint counts %d objects, the sink got %d", st.Objects, len(seen))
			}
			cfg.Resume = &st
			second := SinkFunc(func(r *Result) error { seen[r.Key]++; return nil })
			sum2, err := Run(context.Background(), client, cfg, second, nil)
			if err != nil || !sum2.Complete || !sum2.Resumed {
				t.Fatalf("second run: err %v complete %v resumed %v", err, sum2.Complete, sum2.Resumed)
			}
			if len(seen) != 1500 {
				t.Fatalf("%d distinct keys over both runs, want 1500", len(seen))
			}
			checkOnce(t, fake.Keys, seen)
			if sum2.Objects != 1500 || sum2.Count(StatusDenied) != 1 || sum2.Count(StatusOK) != 1499 {
				t.Errorf("resumed summary: %d objects, %d denied, %d ok; want 1500, 1, 1499", sum2.Objects, sum2.Count(StatusDenied), sum2.Count(StatusOK))
			}
		})
	}
}

func TestResumeOfAnotherTargetIsRefused(t *testing.T) {
	t.Parallel()
	fake := fakeWithKeys(1)
	_, err := Run(context.Background(), fake.client(t), Config{Bucket: "b", Resume: &State{Bucket: "other"}}, &collect{}, nil)
	if err == nil {
		t.Fatal("resumed a checkpoint of another bucket")
	}
}
