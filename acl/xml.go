package acl

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParsePolicy parses a GetObjectAcl (or GetBucketAcl) response body: an
// AccessControlPolicy document.
//
// It is a small hand-written scanner for this one document shape, because
// it runs once per object: encoding/xml's reflection-driven decoder cost
// about a fifth of the client's CPU per object. It checks the document is
// well formed as far as it reads (tags balance, entities are known, the
// root is AccessControlPolicy) and stops after the root element, as
// encoding/xml does; the fuzz tests hold it to encoding/xml's results.
func ParsePolicy(doc []byte) (Policy, error) {
	p := policyParser{doc: doc}
	policy, err := p.parse()
	if err != nil {
		return Policy{}, fmt.Errorf("not an AccessControlPolicy document: %w", err)
	}
	return policy, nil
}

const maxDepth = 32

type policyParser struct {
	doc   []byte
	pos   int
	stack [maxDepth]string // open elements' local names
	names [maxDepth][]byte // open elements' full names, to match end tags
	// marks[i] is where element i's own character data starts in text; a
	// child's data is cut off when the child closes, as encoding/xml keeps
	// only an element's direct character data.
	marks [maxDepth]int
	depth int
	text  []byte
}

var errUnexpectedEOF = errors.New("unexpected end of document")

func (p *policyParser) parse() (Policy, error) {
	var policy Policy
	var grant *Grant
	for {
		lt := bytes.IndexByte(p.doc[p.pos:], '<')
		if lt < 0 {
			if p.depth == 0 {
				return policy, errors.New("no root element")
			}
			return policy, errUnexpectedEOF
		}
		if p.depth > 0 {
			if err := p.appendText(p.doc[p.pos : p.pos+lt]); err != nil {
				return policy, err
			}
		} else if !isSpace(p.doc[p.pos : p.pos+lt]) {
			return policy, errors.New("text outside the root element")
		}
		p.pos += lt
		rest := p.doc[p.pos:]
		switch {
		case bytes.HasPrefix(rest, []byte("<?")):
			if err := p.skipPast("?>"); err != nil {
				return policy, err
			}
		case bytes.HasPrefix(rest, []byte("<!--")):
			if err := p.skipPast("-->"); err != nil {
				return policy, err
			}
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			end := bytes.Index(rest, []byte("]]>"))
			if end < 0 {
				return policy, errUnexpectedEOF
			}
			if p.depth == 0 {
				return policy, errors.New("CDATA outside the root element")
			}
			p.text = appendNormalized(p.text, rest[len("<![CDATA["):end])
			p.pos += end + 3
		case bytes.HasPrefix(rest, []byte("<!")):
			return policy, errors.New("document type declarations are not accepted")
		case bytes.HasPrefix(rest, []byte("</")):
			if err := p.endTag(); err != nil {
				return policy, err
			}
			p.assign(&policy, grant)
			p.depth--
			if p.depth == 0 {
				return policy, nil // the root is closed; the rest is ignored
			}
		default:
			name, local, attrs, selfClosing, err := p.startTag()
			if err != nil {
				return policy, err
			}
			if p.depth == 0 && local != "AccessControlPolicy" {
				return policy, fmt.Errorf("root element is <%s>", name)
			}
			if p.depth == maxDepth {
				return policy, errors.New("elements nested too deep")
			}
			p.stack[p.depth], p.names[p.depth], p.marks[p.depth] = local, name, len(p.text)
			p.depth++
			if p.at("AccessControlList", "Grant") {
				policy.Grants = append(policy.Grants, Grant{})
				grant = &policy.Grants[len(policy.Grants)-1]
			}
			if grant != nil && p.at("AccessControlList", "Grant", "Grantee") {
				if grant.Type, err = typeAttr(attrs); err != nil {
					return policy, err
				}
			}
			if selfClosing {
				p.assign(&policy, grant)
				p.depth--
				if p.depth == 0 {
					return policy, nil
				}
			}
		}
	}
}

// at reports whether the open elements below the root are exactly path.
func (p *policyParser) at(path ...string) bool {
	if p.depth != len(path)+1 {
		return false
	}
	for i, name := range path {
		if p.stack[i+1] != name {
			return false
		}
	}
	return true
}

// assign stores the text of the element being closed (still on the
// stack), then drops that text from the buffer.
func (p *policyParser) assign(policy *Policy, grant *Grant) {
	mark := p.marks[p.depth-1]
	text := p.text[mark:]
	switch {
	case p.at("Owner", "ID"):
		policy.Owner = string(text)
	case grant == nil:
	case p.at("AccessControlList", "Grant", "Permission"):
		grant.Permission = string(text)
	case p.at("AccessControlList", "Grant", "Grantee", "ID"):
		grant.ID = string(text)
	case p.at("AccessControlList", "Grant", "Grantee", "URI"):
		grant.URI = string(text)
	case p.at("AccessControlList", "Grant", "Grantee", "EmailAddress"):
		grant.Email = string(text)
	}
	p.text = p.text[:mark]
}

func (p *policyParser) skipPast(end string) error {
	i := bytes.Index(p.doc[p.pos:], []byte(end))
	if i < 0 {
		return errUnexpectedEOF
	}
	p.pos += i + len(end)
	return nil
}

// startTag reads <name attr="v" ...> or <name .../> at p.pos.
func (p *policyParser) startTag() (name []byte, local string, attrs []byte, selfClosing bool, err error) {
	i := p.pos + 1
	start := i
	for i < len(p.doc) && isNameByte(p.doc[i]) {
		i++
	}
	if i == start {
		return nil, "", nil, false, fmt.Errorf("invalid tag at offset %d", p.pos)
	}
	name = p.doc[start:i]
	attrStart := i
	// Find the tag's end outside quoted attribute values.
	var quote byte
	for ; i < len(p.doc); i++ {
		c := p.doc[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '<' {
				return nil, "", nil, false, errors.New("'<' in an attribute value")
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			attrs = p.doc[attrStart:i]
			if n := len(attrs); n > 0 && attrs[n-1] == '/' {
				attrs, selfClosing = attrs[:n-1], true
			}
			p.pos = i + 1
			return name, localName(name), attrs, selfClosing, nil
		}
	}
	return nil, "", nil, false, errUnexpectedEOF
}

// endTag reads </name> at p.pos and checks it closes the innermost
// element; the caller pops it after assign.
func (p *policyParser) endTag() error {
	gt := bytes.IndexByte(p.doc[p.pos:], '>')
	if gt < 0 {
		return errUnexpectedEOF
	}
	name := bytes.TrimRight(p.doc[p.pos+2:p.pos+gt], " \t\r\n")
	if p.depth == 0 || !bytes.Equal(name, p.names[p.depth-1]) {
		return fmt.Errorf("unexpected end tag </%s>", name)
	}
	p.pos += gt + 1
	return nil
}

func (p *policyParser) appendText(raw []byte) error {
	if bytes.IndexByte(raw, '&') < 0 {
		p.text = appendNormalized(p.text, raw)
		return nil
	}
	var err error
	p.text, err = unescape(p.text, raw)
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

// typeAttr returns the value of the attribute with local name "type"
// (xsi:type), unescaped.
func typeAttr(attrs []byte) (string, error) {
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
			return "", errUnexpectedEOF
		}
		value := rest[1 : 1+end]
		attrs = rest[end+2:]
		if localName(name) == "type" {
			out, err := unescape(nil, value)
			return string(out), err
		}
	}
	return "", nil
}

func localName(name []byte) string {
	if i := bytes.LastIndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	// Interned for the names this parser compares, so the common case
	// does not allocate.
	switch string(name) {
	case "AccessControlPolicy":
		return "AccessControlPolicy"
	case "Owner":
		return "Owner"
	case "ID":
		return "ID"
	case "DisplayName":
		return "DisplayName"
	case "AccessControlList":
		return "AccessControlList"
	case "Grant":
		return "Grant"
	case "Grantee":
		return "Grantee"
	case "URI":
		return "URI"
	case "EmailAddress":
		return "EmailAddress"
	case "Permission":
		return "Permission"
	case "type":
		return "type"
	}
	return string(name)
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '.' || c == ':' || c >= 0x80
}

func isSpace(b []byte) bool {
	return len(bytes.TrimLeft(b, " \t\r\n")) == 0
}

// unescape appends raw to dst, replacing XML's predefined and numeric
// character references.
func unescape(dst, raw []byte) ([]byte, error) {
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
			if err != nil || !isXMLChar(rune(n)) {
				return dst, fmt.Errorf("invalid character reference &%s;", ref)
			}
			dst = utf8.AppendRune(dst, rune(n))
		}
	}
	return dst, nil
}

// isXMLChar reports whether r may appear in an XML 1.0 document.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}
