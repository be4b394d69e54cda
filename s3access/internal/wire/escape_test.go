package wire

import "testing"

func TestEscape(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain/key-1_2.3~": "plain/key-1_2.3~",
		"a b":              "a%20b",
		"a+b&c=d?e#f":      "a%2Bb%26c%3Dd%3Fe%23f",
		"ü":                "%C3%BC",
		"../x//y/":         "../x//y/",
		"\x01":             "%01",
	} {
		if got := Escape(in, true); got != want {
			t.Errorf("Escape(%q, path) = %q, want %q", in, got, want)
		}
	}
	// AWS version IDs may hold '+', '/' and '.'.
	if got := Escape("3/L4k+q.x", false); got != "3%2FL4k%2Bq.x" {
		t.Errorf("Escape(version ID) = %q", got)
	}
}
