package policy

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// truth is what a condition says for a class of requesters.
type truth uint8

const (
	isTrue  truth = iota // holds for every requester of the class
	isFalse              // holds for none
	// chosen: the requester decides (HTTPS or not, a header, a prefix):
	// an Allow under it is theirs to take, a Deny under it theirs to avoid.
	chosen
	// unknown: depends on what aclscan does not read (object tags, the
	// resource's organization): the statement cannot be judged.
	unknown
)

// family is an operator family of the IAM grammar.
type family uint8

const (
	famString family = iota
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famARN
	famNull
)

// comparison within a family.
type comparison uint8

const (
	cmpEquals comparison = iota
	cmpLike
	cmpLess
	cmpLessEq
	cmpGreater
	cmpGreaterEq
)

// operator is a parsed condition operator.
type operator struct {
	family     family
	cmp        comparison
	negated    bool
	ignoreCase bool
	ifExists   bool
	forAll     bool
	forAny     bool
}

var operators = map[string]operator{
	"stringequals":              {family: famString},
	"stringnotequals":           {family: famString, negated: true},
	"stringequalsignorecase":    {family: famString, ignoreCase: true},
	"stringnotequalsignorecase": {family: famString, ignoreCase: true, negated: true},
	"stringlike":                {family: famString, cmp: cmpLike},
	"stringnotlike":             {family: famString, cmp: cmpLike, negated: true},
	"numericequals":             {family: famNumeric},
	"numericnotequals":          {family: famNumeric, negated: true},
	"numericlessthan":           {family: famNumeric, cmp: cmpLess},
	"numericlessthanequals":     {family: famNumeric, cmp: cmpLessEq},
	"numericgreaterthan":        {family: famNumeric, cmp: cmpGreater},
	"numericgreaterthanequals":  {family: famNumeric, cmp: cmpGreaterEq},
	"dateequals":                {family: famDate},
	"datenotequals":             {family: famDate, negated: true},
	"datelessthan":              {family: famDate, cmp: cmpLess},
	"datelessthanequals":        {family: famDate, cmp: cmpLessEq},
	"dategreaterthan":           {family: famDate, cmp: cmpGreater},
	"dategreaterthanequals":     {family: famDate, cmp: cmpGreaterEq},
	"bool":                      {family: famBool},
	"binaryequals":              {family: famBinary},
	"ipaddress":                 {family: famIP},
	"notipaddress":              {family: famIP, negated: true},
	"arnequals":                 {family: famARN},
	"arnlike":                   {family: famARN, cmp: cmpLike},
	"arnnotequals":              {family: famARN, negated: true},
	"arnnotlike":                {family: famARN, cmp: cmpLike, negated: true},
	"null":                      {family: famNull},
}

// parseOperator reads an operator name: an optional ForAllValues: or
// ForAnyValue: qualifier, the operator, an optional IfExists suffix.
func parseOperator(name string) (operator, error) {
	lower := strings.ToLower(name)
	var forAll, forAny bool
	if rest, ok := strings.CutPrefix(lower, "forallvalues:"); ok {
		lower, forAll = rest, true
	} else if rest, ok := strings.CutPrefix(lower, "foranyvalue:"); ok {
		lower, forAny = rest, true
	}
	base, ifExists := strings.CutSuffix(lower, "ifexists")
	op, ok := operators[base]
	if !ok {
		return op, fmt.Errorf("unknown condition operator %q", name)
	}
	if ifExists && op.family == famNull {
		return op, fmt.Errorf("Null cannot take IfExists (%q)", name)
	}
	op.ifExists, op.forAll, op.forAny = ifExists, forAll, forAny
	return op, nil
}

// keyKind is what aclscan knows of a condition key's value for a
// requester who is no one in particular: an outsider on the internet.
type keyKind uint8

const (
	// keyRestricting names who or where the requester is (network,
	// identity, organisation, the calling service). AWS's meaning of
	// "public": a grant limited by a fixed value of such a key is not
	// public. An outsider's value is absent or foreign.
	keyRestricting keyKind = iota
	// keyRequester is chosen by whoever sends the request.
	keyRequester
	// keyFixed has one value, known here (the time, the principal type).
	keyFixed
	// keyUnknown depends on what aclscan does not read.
	keyUnknown
)

// keyInfo says what an outsider's request holds for a key.
type keyInfo struct {
	kind keyKind
	// present: the outsider's request has the key (with a foreign value
	// for a restricting key, value for a fixed one).
	present bool
	value   string
}

// restrictingKeys are the keys AWS names in "the meaning of public"
// (PublicAccessBlockConfiguration) and those naming the principal's
// account or organisation, which IAM Access Analyzer treats alike;
// true when an outsider's request carries the key (with a value not in
// any fixed set).
var restrictingKeys = map[string]bool{
	"aws:sourceip":                  true,
	"aws:sourcevpc":                 false,
	"aws:sourcevpce":                false,
	"aws:vpcsourceip":               false,
	"aws:sourcearn":                 false,
	"aws:sourceaccount":             false,
	"aws:sourceowner":               false,
	"aws:sourceorgid":               false,
	"aws:sourceorgpaths":            false,
	"aws:principalorgid":            false,
	"aws:principalorgpaths":         false,
	"aws:principalaccount":          false,
	"aws:principalarn":              false,
	"aws:userid":                    true,
	"aws:username":                  false,
	"aws:principalservicename":      false,
	"aws:principalservicenameslist": false,
	"aws:calledvia":                 false,
	"aws:calledviafirst":            false,
	"aws:calledvialast":             false,
	"s3:x-amz-server-side-encryption-aws-kms-key-id": false,
	"s3:dataaccesspointarn":                          false,
	"s3:dataaccesspointaccount":                      false,
	"s3:accesspointnetworkorigin":                    false,
}

// requesterKeys are global keys the requester sets by how they ask.
var requesterKeys = map[string]bool{
	"aws:securetransport": true, "aws:referer": true, "aws:useragent": true,
	"aws:requestedregion": true, "aws:tokenissuetime": true, "aws:multifactorauthpresent": true,
	"aws:multifactorauthage": true, "aws:tagkeys": true, "aws:sourceidentity": true,
	"aws:federatedprovider": true,
}

// classifyKey says what an outsider's request holds for key at now;
// fixed gives keys a known value.
func classifyKey(key string, now time.Time, fixed map[string]string) keyInfo {
	k := strings.ToLower(key)
	if v, ok := fixed[k]; ok {
		return keyInfo{kind: keyFixed, present: v != Absent, value: v}
	}
	if present, ok := restrictingKeys[k]; ok {
		return keyInfo{kind: keyRestricting, present: present}
	}
	switch {
	case strings.HasPrefix(k, "aws:principaltag/"):
		return keyInfo{kind: keyRestricting}
	case k == "aws:principaltype":
		return keyInfo{kind: keyFixed, present: true, value: "Anonymous"}
	case k == "aws:principalisawsservice", k == "aws:viaawsservice":
		return keyInfo{kind: keyRestricting, present: true, value: "false"}
	case k == "aws:currenttime":
		return keyInfo{kind: keyFixed, present: true, value: now.UTC().Format(time.RFC3339)}
	case k == "aws:epochtime":
		return keyInfo{kind: keyFixed, present: true, value: strconv.FormatInt(now.Unix(), 10)}
	case requesterKeys[k], strings.HasPrefix(k, "aws:requesttag/"):
		return keyInfo{kind: keyRequester}
	case strings.HasPrefix(k, "s3:existingobjecttag/"), strings.HasPrefix(k, "aws:resourcetag/"),
		strings.HasPrefix(k, "aws:resource"):
		return keyInfo{kind: keyUnknown}
	case strings.HasPrefix(k, "s3:"):
		// S3's request keys (s3:x-amz-acl, s3:prefix, s3:VersionId,
		// s3:TlsVersion, s3:authType, ...) describe the request.
		return keyInfo{kind: keyRequester}
	}
	return keyInfo{kind: keyUnknown}
}

// compiledCondition is one condition ready to evaluate.
type compiledCondition struct {
	Condition
	op   operator
	info keyInfo
	// outsider and insider: what the condition says for a requester who
	// is no one in particular, and for one who has the fixed values it
	// names (in the VPC, the organisation, the address range).
	outsider, insider truth
}

// compileCondition checks a condition's values and works out its truth
// for an outsider and an insider. The error says why it cannot be judged.
func compileCondition(c Condition, now time.Time, fixed map[string]string) (compiledCondition, error) {
	cc := compiledCondition{Condition: c}
	op, err := parseOperator(c.Operator)
	if err != nil {
		return cc, err
	}
	cc.op = op
	if err := checkValues(op, c.Values); err != nil {
		return cc, fmt.Errorf("%s %s: %w", c.Operator, c.Key, err)
	}
	cc.info = classifyKey(c.Key, now, fixed)
	switch cc.info.kind {
	case keyRequester:
		cc.outsider, cc.insider = chosen, chosen
	case keyUnknown:
		cc.outsider, cc.insider = unknown, unknown
	case keyFixed:
		t := evalForeign(op, false, c.Values)
		if cc.info.present {
			t = evalFixed(op, cc.info.value, c.Values)
		}
		cc.outsider, cc.insider = t, t
	case keyRestricting:
		cc.outsider = evalForeign(op, cc.info.present, c.Values)
		// An insider's request holds a value the condition names.
		cc.insider = isTrue
		if op.negated || (op.family == famNull && strings.EqualFold(c.Values[0], "true")) {
			cc.insider = isFalse
		}
		if op.family == famIP && allAddresses(c.Values) {
			cc.insider = cc.outsider // every address is an insider's
		}
	}
	return cc, nil
}

// restricting reports whether the condition tells insiders from outsiders.
func (c *compiledCondition) restricting() bool {
	return c.info.kind == keyRestricting && c.outsider != c.insider
}

func checkValues(op operator, values []string) error {
	if len(values) == 0 {
		return fmt.Errorf("no values")
	}
	for _, v := range values {
		var err error
		switch op.family {
		case famNumeric:
			_, err = strconv.ParseFloat(v, 64)
		case famDate:
			_, err = parseDate(v)
		case famBool, famNull:
			if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
				err = fmt.Errorf("%q is not true or false", v)
			}
		case famBinary:
			_, err = base64.StdEncoding.DecodeString(v)
		case famIP:
			_, err = parsePrefix(v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func parseDate(v string) (time.Time, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date", v)
}

func parsePrefix(v string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(v); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", v)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// allAddresses reports whether a CIDR list covers every address of a
// family (0.0.0.0/0 or ::/0): a limit that limits nothing.
func allAddresses(values []string) bool {
	for _, v := range values {
		if p, err := parsePrefix(v); err == nil && p.Bits() == 0 {
			return true
		}
	}
	return false
}

// evalForeign is a condition's truth for a request whose key is absent
// (present false) or holds a value no fixed set names.
func evalForeign(op operator, present bool, values []string) truth {
	if op.family == famNull {
		wantAbsent := strings.EqualFold(values[0], "true")
		return boolTruth(wantAbsent != present)
	}
	if !present {
		switch {
		case op.ifExists, op.forAll:
			return isTrue
		case op.forAny:
			return isFalse
		}
		return boolTruth(op.negated)
	}
	// A foreign value matches only what matches every value.
	var matches bool
	switch op.family {
	case famString, famARN:
		matches = op.cmp == cmpLike && anyIs(values, "*")
	case famIP:
		matches = allAddresses(values)
	case famBool:
		return unknown
	default:
		return unknown
	}
	return boolTruth(matches != op.negated)
}

// evalFixed is a condition's truth for a known single value.
func evalFixed(op operator, value string, values []string) truth {
	if op.family == famNull {
		return boolTruth(strings.EqualFold(values[0], "false"))
	}
	matched := false
	for _, v := range values {
		var ok bool
		switch op.family {
		case famString:
			ok = compareStrings(op, value, v)
		case famNumeric:
			a, _ := strconv.ParseFloat(value, 64)
			b, _ := strconv.ParseFloat(v, 64)
			ok = compareOrdered(op.cmp, a, b)
		case famDate:
			a, errA := parseDate(value)
			b, _ := parseDate(v)
			if errA != nil {
				return unknown
			}
			ok = compareOrdered(op.cmp, float64(a.UnixNano()), float64(b.UnixNano()))
		case famBool:
			ok = strings.EqualFold(value, v)
		case famARN:
			ok = compareStrings(operator{cmp: op.cmp}, value, v)
		default:
			return unknown
		}
		if ok {
			matched = true
			break
		}
	}
	return boolTruth(matched != op.negated)
}

func compareStrings(op operator, value, want string) bool {
	if op.cmp == cmpLike {
		p := compilePattern(want, true)
		if op.ignoreCase {
			return match(compilePattern(strings.ToLower(want), true).tokens, text{tail: strings.ToLower(value)})
		}
		return match(p.tokens, text{tail: value})
	}
	if op.ignoreCase {
		return strings.EqualFold(value, want)
	}
	return value == want
}

func compareOrdered(cmp comparison, a, b float64) bool {
	switch cmp {
	case cmpLess:
		return a < b
	case cmpLessEq:
		return a <= b
	case cmpGreater:
		return a > b
	case cmpGreaterEq:
		return a >= b
	}
	return math.Abs(a-b) == 0
}

func anyIs(values []string, want string) bool {
	for _, v := range values {
		if v == want {
			return true
		}
	}
	return false
}

func boolTruth(b bool) truth {
	if b {
		return isTrue
	}
	return isFalse
}
