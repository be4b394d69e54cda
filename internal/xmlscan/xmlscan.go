// Package xmlscan reads the small, fixed-shape XML documents S3 answers
// with (ACLs, list pages) an element at a time, without encoding/xml's
// tokens and reflection, a large share of the client's CPU per object
// (docs/benchmarks/README.md). It checks that a document is well formed as far as it reads
// (tags balance, entities are known, one root element) and stops after
// the root, as encoding/xml does; the parsers built on it are fuzzed
// against encoding/xml.
package xmlscan

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxDepth bounds element nesting.
const MaxDepth = 32

// Kind is what Next found.
type Kind uint8

const (
	// Start is a start tag (self-closing tags give Start then End).
	Start Kind = iota + 1
	// End is an end tag; Text holds the element's direct character data.
	End
	// Done means the root element is closed; the rest is not read.
	Done
)

// ErrUnexpectedEOF reports a document cut short.
var ErrUnexpectedEOF = errors.New("unexpected end of document")

// Scanner walks one document.
type Scanner struct {
	doc []byte
	pos int
	// Open elements: local names (sub-slices of doc), full names to match
	// end tags, and where each element's own character data starts in
	// text: a child's data is cut off when it closes, as encoding/xml keeps
	// only an element's direct character data.
	local [MaxDepth][]byte
	names [MaxDepth][]byte
	marks [MaxDepth]int
	depth int
	text  []byte
	// pendingEnd is set after a self-closing start tag; popNext after an
	// End event, whose element stays open until the next call.
	pendingEnd bool
	popNext    bool
	attrs      []byte
	closed     bool
}

// New starts scanning doc.
func New(doc []byte) *Scanner { return &Scanner{doc: doc} }

// Depth is the number of open elements (the root is depth 1); during an
// End event the closing element still counts.
func (s *Scanner) Depth() int { return s.depth }

// At reports whether the open elements are exactly path, root first
// (local names; during an End event, the closing element is the last).
func (s *Scanner) At(path ...string) bool {
	if s.depth != len(path) {
		return false
	}
	for i, name := range path {
		if string(s.local[i]) != name {
			return false
		}
	}
	return true
}

// Name is the local name of the innermost open element.
func (s *Scanner) Name() string {
	if s.depth == 0 {
		return ""
	}
	return string(s.local[s.depth-1])
}

// Text is the direct character data of the element an End event closes;
// it is valid until the next call to Next.
func (s *Scanner) Text() []byte { return s.text[s.marks[s.depth-1]:] }

// Attrs is the raw attribute text of the last start tag.
func (s *Scanner) Attrs() []byte { return s.attrs }

// Next moves to the next start tag, end tag or the end of the root.
func (s *Scanner) Next() (Kind, error) {
	if s.popNext {
		// The element the last End reported leaves now, with its text.
		s.popNext = false
		s.text = s.text[:s.marks[s.depth-1]]
		s.depth--
		if s.depth == 0 {
			s.closed = true
		}
	}
	if s.closed {
		return Done, nil
	}
	if s.pendingEnd {
		s.pendingEnd, s.popNext = false, true
		return End, nil
	}
	for {
		lt := bytes.IndexByte(s.doc[s.pos:], '<')
		if lt < 0 {
			if s.depth == 0 {
				return 0, errors.New("no root element")
			}
			return 0, ErrUnexpectedEOF
		}
		if s.depth > 0 {
			if err := s.appendText(s.doc[s.pos : s.pos+lt]); err != nil {
				return 0, err
			}
		} else if !isSpace(s.doc[s.pos : s.pos+lt]) {
			return 0, errors.New("text outside the root element")
		}
		s.pos += lt
		rest := s.doc[s.pos:]
		switch {
		case bytes.HasPrefix(rest, []byte("<?")):
			if err := s.skipPast("?>"); err != nil {
				return 0, err
			}
		case bytes.HasPrefix(rest, []byte("<!--")):
			if err := s.skipPast("-->"); err != nil {
				return 0, err
			}
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			end := bytes.Index(rest, []byte("]]>"))
			if end < 0 {
				return 0, ErrUnexpectedEOF
			}
			if s.depth == 0 {
				return 0, errors.New("CDATA outside the root element")
			}
			s.text = appendNormalized(s.text, rest[len("<![CDATA["):end])
			s.pos += end + 3
		case bytes.HasPrefix(rest, []byte("<!")):
			return 0, errors.New("document type declarations are not accepted")
		case bytes.HasPrefix(rest, []byte("</")):
			if err := s.endTag(); err != nil {
				return 0, err
			}
			s.popNext = true
			return End, nil
		default:
			name, attrs, selfClosing, err := s.startTag()
			if err != nil {
				return 0, err
			}
			if s.depth == MaxDepth {
				return 0, errors.New("elements nested too deep")
			}
			s.local[s.depth], s.names[s.depth], s.marks[s.depth] = localName(name), name, len(s.text)
			s.depth++
			s.attrs, s.pendingEnd = attrs, selfClosing
			return Start, nil
		}
	}
}

func (s *Scanner) skipPast(end string) error {
	i := bytes.Index(s.doc[s.pos:], []byte(end))
	if i < 0 {
		return ErrUnexpectedEOF
	}
	s.pos += i + len(end)
	return nil
}

// startTag reads <name attr="v" ...> or <name .../> at s.pos.
func (s *Scanner) startTag() (name, attrs []byte, selfClosing bool, err error) {
	i := s.pos + 1
	start := i
	for i < len(s.doc) && isNameByte(s.doc[i]) {
		i++
	}
	if i == start {
		return nil, nil, false, fmt.Errorf("invalid tag at offset %d", s.pos)
	}
	name = s.doc[start:i]
	attrStart := i
	// Find the tag's end outside quoted attribute values.
	var quote byte
	for ; i < len(s.doc); i++ {
		c := s.doc[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '<' {
				return nil, nil, false, errors.New("'<' in an attribute value")
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			attrs = s.doc[attrStart:i]
			if n := len(attrs); n > 0 && attrs[n-1] == '/' {
				attrs, selfClosing = attrs[:n-1], true
			}
			s.pos = i + 1
			return name, attrs, selfClosing, nil
		}
	}
	return nil, nil, false, ErrUnexpectedEOF
}

// endTag reads </name> at s.pos and checks it closes the innermost element.
func (s *Scanner) endTag() error {
	gt := bytes.IndexByte(s.doc[s.pos:], '>')
	if gt < 0 {
		return ErrUnexpectedEOF
	}
	name := bytes.TrimRight(s.doc[s.pos+2:s.pos+gt], " \t\r\n")
	if s.depth == 0 || !bytes.Equal(name, s.names[s.depth-1]) {
		return fmt.Errorf("unexpected end tag </%s>", name)
	}
	s.pos += gt + 1
	return nil
}

func (s *Scanner) appendText(raw []byte) error {
	if bytes.IndexByte(raw, '&') < 0 {
		s.text = appendNormalized(s.text, raw)
		return nil
	}
	var err error
	s.text, err = Unescape(s.text, raw)
	return err
}

// appendNormalized appends raw with XML's line-end normalization: "\r\n"
// and a lone "\r" become "\n".
func appendNormalized(dst, raw []byte) []byte {
	for {
		cr := bytes.IndexByte(raw, '\r')
		if cr < 0 {
			return append(dst, raw...)
		}
		dst = append(append(dst, raw[:cr]...), '\n')
		raw = raw[cr+1:]
		if len(raw) > 0 && raw[0] == '\n' {
			raw = raw[1:]
		}
	}
}

// Attr returns the unescaped value of the attribute with the given local
// name in attrs (the raw attribute text of a start tag), "" if absent.
func Attr(attrs []byte, local string) (string, error) {
	for len(attrs) > 0 {
		attrs = bytes.TrimLeft(attrs, " \t\r\n")
		if len(attrs) == 0 {
			break
		}
		eq := bytes.IndexByte(attrs, '=')
		if eq < 0 {
			return "", errors.New("attribute without a value")
		}
		name := bytes.TrimRight(attrs[:eq], " \t\r\n")
		rest := bytes.TrimLeft(attrs[eq+1:], " \t\r\n")
		if len(rest) == 0 || (rest[0] != '"' && rest[0] != '\'') {
			return "", errors.New("unquoted attribute value")
		}
		end := bytes.IndexByte(rest[1:], rest[0])
		if end < 0 {
			return "", ErrUnexpectedEOF
		}
		value := rest[1 : 1+end]
		attrs = rest[end+2:]
		if string(localName(name)) == local {
			out, err := Unescape(nil, value)
			return string(out), err
		}
	}
	return "", nil
}

func localName(name []byte) []byte {
	if i := bytes.LastIndexByte(name, ':'); i >= 0 {
		return name[i+1:]
	}
	return name
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '.' || c == ':' || c >= 0x80
}

func isSpace(b []byte) bool {
	return len(bytes.TrimLeft(b, " \t\r\n")) == 0
}

// Unescape appends raw to dst, replacing XML's predefined and numeric
// character references. As in XML 1.1, a reference may name a control
// character (any Unicode scalar value but NUL): radosgw writes keys into
// continuation tokens and markers that way, and the token only has to
// come back as it was.
func Unescape(dst, raw []byte) ([]byte, error) {
	for len(raw) > 0 {
		amp := bytes.IndexByte(raw, '&')
		if amp < 0 {
			return appendNormalized(dst, raw), nil
		}
		dst = appendNormalized(dst, raw[:amp])
		raw = raw[amp:]
		semi := bytes.IndexByte(raw, ';')
		if semi < 0 {
			return dst, errors.New("unterminated entity reference")
		}
		ref := string(raw[1:semi])
		raw = raw[semi+1:]
		switch ref {
		case "lt":
			dst = append(dst, '<')
		case "gt":
			dst = append(dst, '>')
		case "amp":
			dst = append(dst, '&')
		case "quot":
			dst = append(dst, '"')
		case "apos":
			dst = append(dst, '\'')
		default:
			num, ok := strings.CutPrefix(ref, "#")
			if !ok {
				return dst, fmt.Errorf("unknown entity &%s;", ref)
			}
			base := 10
			if hex, ok := strings.CutPrefix(num, "x"); ok {
				num, base = hex, 16
			}
			n, err := strconv.ParseUint(num, base, 32)
			if err != nil || n == 0 || !utf8.ValidRune(rune(n)) {
				return dst, fmt.Errorf("invalid character reference &%s;", ref)
			}
			dst = utf8.AppendRune(dst, rune(n))
		}
	}
	return dst, nil
}
