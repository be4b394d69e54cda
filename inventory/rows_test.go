package inventory

import (
	"net/url"
	"testing"
)

// unescapeKey decodes as url.QueryUnescape does, and refuses what it refuses.
func TestUnescapeKey(t *testing.T) {
	for _, s := range []string{"plain/key", "a+b", "a%2Bb", "%C3%BCber%2Fdir", "sp%20ace+plus", "100%25", "%", "%4", "%zz", "end%2", "%e2%82%ac", ""} {
		want, wantErr := url.QueryUnescape(s)
		got, err := unescapeKey(s)
		if got != want || (err == nil) != (wantErr == nil) {
			t.Errorf("unescapeKey(%q) = %q, %v; url.QueryUnescape: %q, %v", s, got, err, want, wantErr)
		}
	}
}

func FuzzUnescapeKey(f *testing.F) {
	f.Add("a%2Fb+c")
	f.Fuzz(func(t *testing.T, s string) {
		want, wantErr := url.QueryUnescape(s)
		got, err := unescapeKey(s)
		if got != want || (err == nil) != (wantErr == nil) {
			t.Errorf("unescapeKey(%q) = %q, %v; url.QueryUnescape: %q, %v", s, got, err, want, wantErr)
		}
	})
}
