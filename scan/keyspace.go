package scan

import (
	"maps"
	"math/big"
	"slices"
	"unicode/utf8"
)

// Parallel listing cuts the keyspace into ranges (after, until] listed by
// separate chains of requests. A bucket's key distribution is unknown in
// advance, so the split points are drawn from what a chain has just seen:
// the keys of its last page give, position by position, the characters
// keys are made of (widened to their class: a digit stands for all ten),
// and the rest of the range is cut into equal slices of the space of
// strings over those characters. Bucket layouts repeat their shape (dates,
// counters, hex, path separators), so the slices land on real keys: a
// hierarchy "p000/..".."p099/.." splits by its digits within a page or
// two, a flat "obj-000000".. one character deeper each page until the
// slices hold keys. Split points only need to be strings, not keys, and
// exactly-once comes from the ranges, not the guesses: each key belongs to
// the one range whose (after, until] holds it.

// minPagesPerSlice is the estimated size below which a bounded range is
// not cut further.
const minPagesPerSlice = 2

// maxSplitWidth bounds the characters a split point is computed on; S3
// keys are at most 1,024 bytes.
const maxSplitWidth = 256

// splitPoints returns up to n increasing strings b with last < b and, when
// bounded, b < until. pageKeys are the keys of the page that ended at
// last; they give the alphabets. The result may be shorter than n (or
// empty) when the range cannot be cut finer.
func splitPoints(pageKeys []string, last, until string, bounded bool, n int) []string {
	if n <= 0 || len(pageKeys) == 0 {
		return nil
	}
	sample := pageKeys
	if bounded {
		sample = append(sample[:len(sample):len(sample)], until)
	}
	space := newKeySpace(sample)
	if space == nil {
		return nil
	}
	lo := space.value(last)
	var hi *big.Int
	if bounded {
		hi = space.value(until)
	} else {
		// The largest string of the space: beyond it lie only keys with
		// characters the page did not show, left to the last range.
		hi = new(big.Int).Sub(space.size(), big.NewInt(1))
	}
	span := new(big.Int).Sub(hi, lo)
	if span.Sign() <= 0 {
		return nil
	}
	if bounded {
		// A range is listed from its start with full pages, and the part
		// of a page past the range's end is read for nothing; so slices
		// should hold a few pages each. The page just read tells the key
		// density: it spanned pageSpan for len(pageKeys) keys.
		pageSpan := new(big.Int).Sub(lo, space.value(pageKeys[0]))
		if pageSpan.Sign() > 0 {
			pages := new(big.Int).Quo(span, pageSpan)
			if pages.IsInt64() {
				n = min(n, int(pages.Int64()/minPagesPerSlice))
			}
		}
		if n <= 0 {
			return nil
		}
	}
	points := make([]string, 0, n)
	parts := big.NewInt(int64(n + 1))
	v := new(big.Int)
	prev := last
	for i := 1; i <= n; i++ {
		v.Mul(span, big.NewInt(int64(i)))
		v.Quo(v, parts)
		v.Add(v, lo)
		p := space.key(v)
		if p <= prev || (bounded && p >= until) || len(p) > 1024 {
			continue
		}
		points = append(points, p)
		prev = p
	}
	return points
}

// keySpace numbers strings in mixed radix: position i has the digits 0
// ("end of string") and 1..len(alphabets[i]) for its characters, so that
// numbers and strings sort alike.
type keySpace struct {
	alphabets [][]rune
	bases     []*big.Int
}

func newKeySpace(sample []string) *keySpace {
	var perPosition []map[rune]struct{}
	for _, k := range sample {
		i := 0
		for _, r := range k {
			if i == maxSplitWidth {
				return nil
			}
			if i == len(perPosition) {
				perPosition = append(perPosition, map[rune]struct{}{})
			}
			// Split points avoid control characters: servers echo
			// StartAfter in XML, which cannot carry them.
			if r != utf8.RuneError && r >= 0x20 && r != 0x7f {
				perPosition[i][r] = struct{}{}
			}
			i++
		}
	}
	if len(perPosition) == 0 {
		return nil
	}
	union := map[rune]struct{}{}
	sp := &keySpace{}
	for _, chars := range perPosition {
		if len(chars) == 0 {
			chars[' '] = struct{}{}
		}
		widen(chars)
		maps.Copy(union, chars)
		sp.add(chars)
	}
	sp.add(union) // one position more than the longest key
	return sp
}

// widen adds the whole class of each character seen: a position that
// showed some digits may hold any digit.
func widen(chars map[rune]struct{}) {
	classes := [][2]rune{{'0', '9'}, {'a', 'z'}, {'A', 'Z'}}
	for _, c := range classes {
		for r := range chars {
			if r >= c[0] && r <= c[1] {
				for x := c[0]; x <= c[1]; x++ {
					chars[x] = struct{}{}
				}
				break
			}
		}
	}
}

func (sp *keySpace) add(chars map[rune]struct{}) {
	alphabet := slices.Sorted(maps.Keys(chars))
	sp.alphabets = append(sp.alphabets, alphabet)
	sp.bases = append(sp.bases, big.NewInt(int64(len(alphabet)+1)))
}

// size is the number of strings the space holds.
func (sp *keySpace) size() *big.Int {
	v := big.NewInt(1)
	for _, b := range sp.bases {
		v.Mul(v, b)
	}
	return v
}

// value maps s into the space; a character outside a position's alphabet
// counts as the largest one below it (or as end of string), which keeps
// the map monotonic.
func (sp *keySpace) value(s string) *big.Int {
	v, d := new(big.Int), new(big.Int)
	pos := 0
	for _, r := range s {
		if pos == len(sp.alphabets) {
			break
		}
		i, found := slices.BinarySearch(sp.alphabets[pos], r)
		if !found {
			i-- // the largest character below r; -1 becomes digit 0
		}
		v.Mul(v, sp.bases[pos])
		v.Add(v, d.SetInt64(int64(i+1)))
		pos++
	}
	for ; pos < len(sp.alphabets); pos++ {
		v.Mul(v, sp.bases[pos])
	}
	return v
}

// key is the inverse of value; it stops at the first "end of string".
func (sp *keySpace) key(v *big.Int) string {
	width := len(sp.alphabets)
	digits := make([]int, width)
	q, r := new(big.Int).Set(v), new(big.Int)
	for i := width - 1; i >= 0; i-- {
		q.QuoRem(q, sp.bases[i], r)
		digits[i] = int(r.Int64())
	}
	out := make([]rune, 0, width)
	for i, d := range digits {
		if d == 0 {
			break
		}
		out = append(out, sp.alphabets[i][d-1])
	}
	return string(out)
}
