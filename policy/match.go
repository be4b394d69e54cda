package policy

import (
	"strings"
)

// Wildcards in a compiled pattern: every other value is a byte.
const (
	wildAny  = 256 // * : any run of characters, / included
	wildOne  = 257 // ? : any one character
	wildVar  = 258 // a policy variable that depends on the requester: any run
	maxToken = 259
)

// pattern is a Resource or Action pattern with its wildcards resolved.
type pattern struct {
	tokens []uint16
	// vars names the requester-dependent policy variables it holds
	// (${aws:username}, ...): the pattern matches only some requesters'
	// objects.
	vars []string
}

// compilePattern reads a pattern; withVariables resolves policy variables
// (policy Version 2012-10-17): ${*}, ${?} and ${$} are the literal
// characters, any other ${key} depends on who asks.
func compilePattern(s string, withVariables bool) pattern {
	var p pattern
	p.tokens = make([]uint16, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '*':
			p.tokens = append(p.tokens, wildAny)
		case c == '?':
			p.tokens = append(p.tokens, wildOne)
		case c == '$' && withVariables && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				p.tokens = append(p.tokens, uint16(c))
				continue
			}
			name := s[i+2 : i+end]
			switch name {
			case "*", "?", "$":
				p.tokens = append(p.tokens, uint16(name[0]))
			default:
				p.tokens = append(p.tokens, wildVar)
				p.vars = append(p.vars, "${"+name+"}")
			}
			i += end
		default:
			p.tokens = append(p.tokens, uint16(c))
		}
	}
	return p
}

// literalPrefix is the pattern's text before its first wildcard.
func (p pattern) literalPrefix() string {
	var b strings.Builder
	for _, t := range p.tokens {
		if t > 255 {
			break
		}
		b.WriteByte(byte(t))
	}
	return b.String()
}

// text is a string given in two parts (an ARN's fixed head and an
// object key), matched without joining them.
type text struct{ head, tail string }

func (t text) len() int { return len(t.head) + len(t.tail) }

func (t text) at(i int) byte {
	if i < len(t.head) {
		return t.head[i]
	}
	return t.tail[i-len(t.head)]
}

// match reports whether the tokens match all of t: the classic wildcard
// walk with one backtracking point, linear for patterns with one star and
// at worst len(tokens)*len(t) otherwise. Case-sensitive (S3 resources).
func match(tokens []uint16, t text) bool {
	n := t.len()
	pi, ti := 0, 0
	star, mark := -1, 0
	for ti < n {
		if pi < len(tokens) {
			switch tok := tokens[pi]; {
			case tok == wildAny || tok == wildVar:
				star, mark = pi, ti
				pi++
				continue
			case tok == wildOne || (tok < 256 && byte(tok) == t.at(ti)):
				pi++
				ti++
				continue
			}
		}
		if star < 0 {
			return false
		}
		pi = star + 1
		mark++
		ti = mark
	}
	for pi < len(tokens) && (tokens[pi] == wildAny || tokens[pi] == wildVar) {
		pi++
	}
	return pi == len(tokens)
}

// matchesSomeExtension reports whether the tokens match head followed by
// some string: whether a pattern can name anything under a prefix.
func matchesSomeExtension(tokens []uint16, head string) bool {
	// Walk head as far as it goes; at its end anything may follow, so
	// the pattern matches some extension if the rest is satisfiable,
	// which every token sequence is.
	var walk func(pi, ti int) bool
	steps := 0
	walk = func(pi, ti int) bool {
		steps++
		if steps > 1<<16 {
			return true // pathological pattern: assume it can
		}
		for {
			if ti == len(head) {
				return true
			}
			if pi == len(tokens) {
				return false
			}
			switch tok := tokens[pi]; {
			case tok == wildAny || tok == wildVar:
				for k := ti; k <= len(head); k++ {
					if walk(pi+1, k) {
						return true
					}
				}
				return false
			case tok == wildOne || (tok < 256 && byte(tok) == head[ti]):
				pi++
				ti++
			default:
				return false
			}
		}
	}
	return walk(0, 0)
}

// keyMatcher matches the key part of object ARNs under one bucket,
// with the pattern's bucket part already checked at compile time.
type keyMatcher struct {
	kind keyMatchKind
	lit  string   // literal, or prefix
	full []uint16 // the whole pattern, for the general case
	head string   // the ARN head the key follows (general case)
}

type keyMatchKind uint8

const (
	keyNever keyMatchKind = iota
	keyAll
	keyPrefix
	keyExact
	keySuffix
	keyGeneral
)

// compileKeyMatcher specialises p for the objects of the bucket whose
// ARN head ("arn:aws:s3:::bucket/") is given: most patterns are the head
// and a prefix, a key, or everything.
func compileKeyMatcher(p pattern, head string) keyMatcher {
	lit := p.literalPrefix()
	if len(lit) < len(head) {
		if !strings.HasPrefix(head, lit) || !matchesSomeExtension(p.tokens, head) {
			return keyMatcher{kind: keyNever}
		}
		return keyMatcher{kind: keyGeneral, full: p.tokens, head: head}
	}
	if !strings.HasPrefix(lit, head) {
		return keyMatcher{kind: keyNever}
	}
	rest := p.tokens[len(head):]
	restLit := lit[len(head):]
	switch {
	case len(rest) == len(restLit):
		return keyMatcher{kind: keyExact, lit: restLit}
	case len(rest) == len(restLit)+1 && rest[len(restLit)] == wildAny:
		if restLit == "" {
			return keyMatcher{kind: keyAll}
		}
		return keyMatcher{kind: keyPrefix, lit: restLit}
	case restLit == "" && len(rest) > 1 && rest[0] == wildAny && literalTokens(rest[1:]):
		suffix := make([]byte, len(rest)-1)
		for i, t := range rest[1:] {
			suffix[i] = byte(t)
		}
		return keyMatcher{kind: keySuffix, lit: string(suffix)}
	}
	return keyMatcher{kind: keyGeneral, full: rest}
}

func (m *keyMatcher) match(key string) bool {
	switch m.kind {
	case keyAll:
		return true
	case keyPrefix:
		return strings.HasPrefix(key, m.lit)
	case keyExact:
		return key == m.lit
	case keySuffix:
		return strings.HasSuffix(key, m.lit)
	case keyGeneral:
		return match(m.full, text{head: m.head, tail: key})
	}
	return false
}

func literalTokens(tokens []uint16) bool {
	for _, t := range tokens {
		if t > 255 {
			return false
		}
	}
	return true
}
