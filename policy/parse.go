// Package policy reads S3 resource policies (bucket and access point
// policies) in the IAM policy grammar and works out, for an object or a
// bucket, which classes of principals they let do what: anyone on the
// internet, anyone only under a condition that AWS says makes a policy
// non-public, named other accounts, and what explicit denies take away.
//
// Parsing uses encoding/json (no maintained Go module for the IAM grammar
// is served here); the evaluation is aclscan's own, because it answers a
// question AWS's engine does not: not "is this request allowed" but "for
// which requesters could a request be allowed". Everything here is a pure
// function of its inputs.
package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// MaxSize is the largest policy document read. S3 caps a bucket policy at
// 20 KB; a larger answer is not a policy aclscan should trust.
const MaxSize = 64 << 10

// Document is a parsed policy.
type Document struct {
	Version    string
	ID         string
	Statements []Statement
}

// Statement is one statement as written.
type Statement struct {
	// Sid as written ("" when absent); Index is the statement's position
	// (0-based), which names it when it has no Sid.
	Sid   string
	Index int
	Deny  bool
	// Principal or NotPrincipal (NotPrincipal says which); HasPrincipal
	// is false when neither is given.
	Principal    Principals
	NotPrincipal bool
	HasPrincipal bool
	// Actions or NotAction (NotAction says which).
	Actions   []string
	NotAction bool
	// Resources or NotResource (NotResource says which).
	Resources   []string
	NotResource bool
	Conditions  []Condition
}

// Ref names the statement in reports: its Sid, or "#index" without one.
func (s *Statement) Ref() string {
	if s.Sid != "" {
		return s.Sid
	}
	return "#" + strconv.Itoa(s.Index)
}

// Principals are a Principal (or NotPrincipal) element.
type Principals struct {
	// Any is "*" (or {"AWS":"*"}): every principal, anonymous included.
	Any                                    bool
	AWS, CanonicalUser, Service, Federated []string
}

// Condition is one key's test in a Condition block: Operator as written
// (with its ForAllValues:/ForAnyValue: qualifier and IfExists suffix).
type Condition struct {
	Operator string
	Key      string
	Values   []string
}

// String renders the condition for reports: IpAddress aws:SourceIp [10.0.0.0/8].
func (c Condition) String() string {
	return c.Operator + " " + c.Key + " [" + strings.Join(c.Values, ", ") + "]"
}

// Parse reads a policy document. A document that is not a policy in the
// IAM grammar is an error saying where; what parses but cannot be judged
// (an unknown condition operator, say) is left to Compile, statement by
// statement.
func Parse(data []byte) (*Document, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("the policy is %d bytes, over the %d read", len(data), MaxSize)
	}
	var top map[string]json.RawMessage
	if err := strictDecode(data, &top); err != nil {
		return nil, fmt.Errorf("the policy is not a JSON object: %w", err)
	}
	doc := &Document{}
	for name, raw := range top {
		var err error
		switch name {
		case "Version":
			err = json.Unmarshal(raw, &doc.Version)
		case "Id":
			err = json.Unmarshal(raw, &doc.ID)
		case "Statement":
			doc.Statements, err = parseStatements(raw)
		default:
			err = fmt.Errorf("unknown element")
		}
		if err != nil {
			return nil, fmt.Errorf("policy element %q: %w", name, err)
		}
	}
	if doc.Statements == nil {
		return nil, fmt.Errorf("the policy has no Statement")
	}
	return doc, nil
}

func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the document")
	}
	return nil
}

// parseStatements reads Statement: one object or a list of them.
func parseStatements(raw json.RawMessage) ([]Statement, error) {
	var list []json.RawMessage
	if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && trimmed[0] == '{' {
		list = []json.RawMessage{raw}
	} else if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("not an object or a list of objects")
	}
	out := make([]Statement, 0, len(list))
	for i, item := range list {
		st, err := parseStatement(item, i)
		if err != nil {
			return nil, fmt.Errorf("statement %d: %w", i, err)
		}
		out = append(out, st)
	}
	return out, nil
}

func parseStatement(raw json.RawMessage, index int) (Statement, error) {
	st := Statement{Index: index}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return st, fmt.Errorf("not an object")
	}
	var effect string
	var haveAction, haveResource bool
	for name, v := range fields {
		var err error
		switch name {
		case "Sid":
			err = json.Unmarshal(v, &st.Sid)
		case "Effect":
			err = json.Unmarshal(v, &effect)
		case "Principal", "NotPrincipal":
			if st.HasPrincipal {
				return st, fmt.Errorf("both Principal and NotPrincipal")
			}
			st.HasPrincipal, st.NotPrincipal = true, name == "NotPrincipal"
			st.Principal, err = parsePrincipals(v)
		case "Action", "NotAction":
			if haveAction {
				return st, fmt.Errorf("both Action and NotAction")
			}
			haveAction, st.NotAction = true, name == "NotAction"
			st.Actions, err = stringOrList(v)
		case "Resource", "NotResource":
			if haveResource {
				return st, fmt.Errorf("both Resource and NotResource")
			}
			haveResource, st.NotResource = true, name == "NotResource"
			st.Resources, err = stringOrList(v)
		case "Condition":
			st.Conditions, err = parseConditions(v)
		default:
			err = fmt.Errorf("unknown element")
		}
		if err != nil {
			return st, fmt.Errorf("%s: %w", name, err)
		}
	}
	switch effect {
	case "Allow":
	case "Deny":
		st.Deny = true
	case "":
		return st, fmt.Errorf("no Effect")
	default:
		return st, fmt.Errorf("Effect %q is neither Allow nor Deny", effect)
	}
	if !haveAction {
		return st, fmt.Errorf("no Action or NotAction")
	}
	if !haveResource {
		return st, fmt.Errorf("no Resource or NotResource")
	}
	return st, nil
}

func parsePrincipals(raw json.RawMessage) (Principals, error) {
	var p Principals
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return p, fmt.Errorf("a string principal must be \"*\", not %q", star)
		}
		p.Any = true
		return p, nil
	}
	var byType map[string]json.RawMessage
	if err := json.Unmarshal(raw, &byType); err != nil {
		return p, fmt.Errorf("not \"*\" or an object")
	}
	for typ, v := range byType {
		values, err := stringOrList(v)
		if err != nil {
			return p, fmt.Errorf("%s: %w", typ, err)
		}
		switch typ {
		case "AWS":
			for _, value := range values {
				if value == "*" {
					p.Any = true
				} else {
					p.AWS = append(p.AWS, value)
				}
			}
		case "CanonicalUser":
			p.CanonicalUser = append(p.CanonicalUser, values...)
		case "Service":
			p.Service = append(p.Service, values...)
		case "Federated":
			p.Federated = append(p.Federated, values...)
		default:
			return p, fmt.Errorf("unknown principal type %q", typ)
		}
	}
	return p, nil
}

// parseConditions reads {"Operator": {"key": value or [values]}}, in a
// stable order (JSON objects have none).
func parseConditions(raw json.RawMessage) ([]Condition, error) {
	var block map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &block); err != nil {
		return nil, fmt.Errorf("not an object of operators to objects of keys")
	}
	var out []Condition
	for op, keys := range block {
		for key, v := range keys {
			values, err := scalarOrList(v)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", op, key, err)
			}
			out = append(out, Condition{Operator: op, Key: key, Values: values})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Operator != out[j].Operator {
			return out[i].Operator < out[j].Operator
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

// stringOrList reads a string or a list of strings.
func stringOrList(raw json.RawMessage) ([]string, error) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("not a string or a list of strings")
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("an empty list")
	}
	return list, nil
}

// scalarOrList reads a condition value: a string, number or boolean, or
// a list of them, each as its text.
func scalarOrList(raw json.RawMessage) ([]string, error) {
	var items []json.RawMessage
	if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
	} else {
		items = []json.RawMessage{raw}
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		var v any
		dec := json.NewDecoder(bytes.NewReader(item))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case json.Number:
			out = append(out, v.String())
		case bool:
			out = append(out, strconv.FormatBool(v))
		default:
			return nil, fmt.Errorf("a value must be a string, number or boolean")
		}
	}
	return out, nil
}
