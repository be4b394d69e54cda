package scan

import (
	"fmt"
	"testing"
	"unicode/utf8"
)

func seqKeys(format string, from, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf(format, from+i)
	}
	return keys
}

func TestSplitPoints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		page      []string
		until     string
		bounded   bool
		n         int
		wantAtMin int // at least this many points
		wantAtMax int // at most
	}{
		{"flat unbounded", seqKeys("obj-%06d", 0, 1000), "", false, 15, 10, 15},
		{"hierarchy unbounded", seqKeys("p000/k%04d", 0, 1000), "", false, 15, 10, 15},
		// ~9 pages left: slices of at least 2 pages each.
		{"bounded dense", seqKeys("obj-%06d", 0, 1000), "obj-010000", true, 7, 4, 5},
		{"bounded, one page left", seqKeys("obj-%06d", 0, 1000), "obj-001999", true, 7, 0, 0},
		{"single key page", []string{"a"}, "", false, 3, 1, 3},
		{"non-ASCII keys", []string{"日本/1", "日本/2", "日本/3"}, "", false, 4, 1, 4},
		{"no room below bound", []string{"a", "b"}, "b\x00", true, 4, 0, 0},
		{"no idle chain", seqKeys("k%03d", 0, 10), "", false, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			last := tt.page[len(tt.page)-1]
			points := splitPoints(tt.page, last, tt.until, tt.bounded, tt.n)
			if len(points) < tt.wantAtMin || len(points) > tt.wantAtMax {
				t.Fatalf("got %d points %q, want %d..%d", len(points), points, tt.wantAtMin, tt.wantAtMax)
			}
			prev := last
			for _, p := range points {
				if p <= prev {
					t.Errorf("point %q not above %q", p, prev)
				}
				if tt.bounded && p >= tt.until {
					t.Errorf("point %q not below the bound %q", p, tt.until)
				}
				if !utf8.ValidString(p) || len(p) > 1024 {
					t.Errorf("point %q is not a valid key", p)
				}
				prev = p
			}
		})
	}
}

// Slices of a bounded range over digits land on real keys: the point of
// splitting by the page's alphabet.
func TestSplitPointsFollowTheKeysAlphabet(t *testing.T) {
	t.Parallel()
	page := seqKeys("obj-%06d", 0, 1000)
	points := splitPoints(page, page[999], "obj-100000", true, 9)
	if len(points) < 8 {
		t.Fatalf("points = %q", points)
	}
	for _, p := range points {
		// Each point must lie among the digits ("obj-0..." to "obj-1"),
		// not in characters no key uses.
		for _, r := range p[len("obj-"):] {
			if r < '0' || r > '9' {
				t.Errorf("point %q leaves the keys' digits", p)
				break
			}
		}
	}
}
