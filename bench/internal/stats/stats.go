// Package stats holds the small statistics the benchmark programs share.
package stats

import (
	"cmp"
	"slices"
)

// Median is the middle of xs (the upper middle of an even count; the zero
// value for none), xs left unsorted.
func Median[T cmp.Ordered](xs []T) T {
	var zero T
	if len(xs) == 0 {
		return zero
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
