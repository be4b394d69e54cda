// Package accept holds the exposure a team intends: rules that accept a
// finding kind on some objects, with a reason (a static website's
// assets, a public dataset, a partner's drop folder). A finding a live
// rule matches is reported as accepted, apart from the others, and does
// not fail a run; a rule that has expired no longer applies, and a rule
// that matched nothing is listed so that it can be deleted.
//
// The file is YAML:
//
//	rules:
//	  - id: website-assets
//	    bucket: example-site        # a glob over the bucket name
//	    key: "assets/**"            # a glob over the whole key; ** crosses /
//	    findings: [public]
//	    reason: the public website's images and styles
//	    expires: 2027-06-30         # optional
//	  - id: partner-drop
//	    bucket: "exchange-*"
//	    key: "partner-a/**"
//	    findings: [cross-account]
//	    principals: ["111122223333"] # optional: only these accounts
//	    reason: partner A reads what we drop for it
//
// Matching costs a map lookup per object when no rule names its bucket,
// and a prefix check per rule of the bucket otherwise (rules are compiled
// once and grouped by bucket; BenchmarkMatch measures 1,000 rules).
package accept

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/bmatcuk/doublestar/v4"
	"go.yaml.in/yaml/v3"
)

// DefaultFile is the file read from the working directory when none is
// named.
const DefaultFile = ".aclscan.yaml"

// Rule is one accepted exposure as written in the file.
type Rule struct {
	ID         string   `yaml:"id"`
	Bucket     string   `yaml:"bucket"`
	Key        string   `yaml:"key"`
	Findings   []string `yaml:"findings"`
	Principals []string `yaml:"principals"`
	Reason     string   `yaml:"reason"`
	Expires    string   `yaml:"expires"`
	// Line is where the rule starts in its file.
	Line int `yaml:"-"`
}

// Name is how messages name the rule: its id, or its place.
func (r *Rule) Name() string {
	if r.ID != "" {
		return r.ID
	}
	return fmt.Sprintf("the rule at line %d", r.Line)
}

// file is the document's shape.
type file struct {
	Rules           []Rule   `yaml:"rules"`
	TrustedAccounts []string `yaml:"trusted_accounts"`
}

// Rules are a file's rules compiled, and what became of them in a run.
// Safe for use by many goroutines.
type Rules struct {
	// Path is the file read ("" for rules given otherwise).
	Path string
	// TrustedAccounts are the file's zone of trust.
	TrustedAccounts []string
	// Expired are the rules whose date has passed: they no longer apply.
	Expired []*Rule

	live     []*compiled
	byBucket map[string][]*compiled // rules naming one bucket exactly
	globbed  []*compiled            // rules with a bucket pattern
	cache    sync.Map               // bucket -> []*compiled (the globbed ones that match it, plus the exact ones)
}

// compiled is a live rule ready to match.
type compiled struct {
	rule  *Rule
	kinds acl.Findings
	// keyPrefix is the key pattern's literal start: keys without it
	// cannot match, and most are turned away by it alone.
	keyPrefix  string
	keyPattern string // "" or "**": every key
	principals map[string]bool
	acceptance *Acceptance // shared by every object the rule accepts
	matched    atomic.Int64
}

// Acceptance is the rule that accepted an object's findings: what a
// report says of it.
type Acceptance struct {
	Rule   string
	Reason string
}

// Load reads and compiles a rules file; now decides which rules have
// expired. An error is one line naming the file, the rule and the field.
func Load(name string, now time.Time) (*Rules, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	rules, err := Parse(data, now)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	rules.Path = name
	return rules, nil
}

// Parse compiles the rules of a document (see the package comment).
func Parse(data []byte, now time.Time) (*Rules, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not YAML: %s", oneLine(err))
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s (a file holds rules: and trusted_accounts:, each rule id, bucket, key, findings, principals, reason, expires)", oneLine(err))
	}
	lines := ruleLines(&doc)
	out := &Rules{byBucket: map[string][]*compiled{}}
	for _, id := range f.TrustedAccounts {
		if err := CheckTrusted(id); err != nil {
			return nil, fmt.Errorf("trusted_accounts: %w", err)
		}
	}
	out.TrustedAccounts = f.TrustedAccounts
	today := now.UTC().Format(time.DateOnly)
	ids := map[string]bool{}
	for i := range f.Rules {
		r := &f.Rules[i]
		if i < len(lines) {
			r.Line = lines[i]
		}
		c, err := compile(r)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.Name(), err)
		}
		if r.ID != "" {
			if ids[r.ID] {
				return nil, fmt.Errorf("rule %s: id: used by an earlier rule too; ids name one rule each", r.Name())
			}
			ids[r.ID] = true
		}
		if r.Expires != "" && r.Expires < today {
			out.Expired = append(out.Expired, r)
			continue
		}
		out.live = append(out.live, c)
		if hasMeta(r.Bucket) {
			out.globbed = append(out.globbed, c)
		} else {
			out.byBucket[r.Bucket] = append(out.byBucket[r.Bucket], c)
		}
	}
	return out, nil
}

func compile(r *Rule) (*compiled, error) {
	switch {
	case strings.TrimSpace(r.Reason) == "":
		return nil, errors.New("reason: required (say why this exposure is intended)")
	case r.Bucket == "":
		return nil, errors.New("bucket: required (a bucket name or a glob such as \"site-*\")")
	case len(r.Findings) == 0:
		return nil, errors.New("findings: required (public, authenticated, cross-account, conditional, ...)")
	}
	if _, err := path.Match(r.Bucket, ""); err != nil || strings.Contains(r.Bucket, "/") {
		return nil, fmt.Errorf("bucket: %q is not a bucket name or glob", r.Bucket)
	}
	if !doublestar.ValidatePattern(r.Key) {
		return nil, fmt.Errorf("key: %q is not a valid glob", r.Key)
	}
	if r.Expires != "" {
		if _, err := time.Parse(time.DateOnly, r.Expires); err != nil {
			return nil, fmt.Errorf("expires: %q is not a date (YYYY-MM-DD)", r.Expires)
		}
	}
	c := &compiled{rule: r, keyPattern: r.Key, acceptance: &Acceptance{Rule: r.Name(), Reason: r.Reason}}
	for _, name := range r.Findings {
		k, ok := acl.ParseKind(name)
		if !ok {
			return nil, fmt.Errorf("findings: %q is not a finding kind (%s)", name, strings.Join(kindNames(), ", "))
		}
		c.kinds = c.kinds.With(k)
	}
	if len(r.Principals) > 0 {
		if c.kinds != 1<<acl.CrossAccount {
			return nil, errors.New("principals: only for findings [cross-account] (who else may read the objects)")
		}
		c.principals = map[string]bool{}
		for _, p := range r.Principals {
			c.principals[p] = true
		}
	}
	if r.Key == "**" {
		c.keyPattern = ""
	}
	if i := strings.IndexAny(c.keyPattern, `*?[{\`); i >= 0 {
		c.keyPrefix = c.keyPattern[:i]
	} else {
		c.keyPrefix = c.keyPattern
	}
	return c, nil
}

// Match says which of an object's findings live rules accept, and the
// first rule that accepts them. principals, asked only when a rule that
// names principals could apply, lists who the object's cross-account
// findings reach (account IDs or canonical IDs).
func (rs *Rules) Match(bucket, key string, findings acl.Findings, principals func() []string) (acl.Findings, *Acceptance) {
	if rs == nil || findings == 0 {
		return 0, nil
	}
	var accepted acl.Findings
	var by *Acceptance
	for _, c := range rs.forBucket(bucket) {
		kinds := c.kinds & findings &^ accepted
		if kinds == 0 || !c.matchKey(key) {
			continue
		}
		if c.principals != nil && !allIn(principals(), c.principals) {
			continue
		}
		c.matched.Add(1)
		accepted |= kinds
		if by == nil {
			by = c.acceptance
		}
		if accepted == findings {
			break
		}
	}
	return accepted, by
}

// WholeBucket says which finding kinds live rules accept on every key of
// the bucket (for exposure that has no key, such as a bucket policy
// statement).
func (rs *Rules) WholeBucket(bucket string) acl.Findings {
	if rs == nil {
		return 0
	}
	var kinds acl.Findings
	for _, c := range rs.forBucket(bucket) {
		if c.keyPattern == "" && c.principals == nil {
			kinds |= c.kinds
		}
	}
	return kinds
}

// Unmatched are the live rules that accepted nothing so far.
func (rs *Rules) Unmatched() []*Rule {
	if rs == nil {
		return nil
	}
	var out []*Rule
	for _, c := range rs.live {
		if c.matched.Load() == 0 {
			out = append(out, c.rule)
		}
	}
	return out
}

// Len is the number of live rules.
func (rs *Rules) Len() int {
	if rs == nil {
		return 0
	}
	return len(rs.live)
}

// forBucket is the rules that can apply in bucket, resolved once per
// bucket.
func (rs *Rules) forBucket(bucket string) []*compiled {
	if len(rs.globbed) == 0 {
		return rs.byBucket[bucket]
	}
	if v, ok := rs.cache.Load(bucket); ok {
		return v.([]*compiled)
	}
	var list []*compiled
	for _, c := range rs.live {
		if c.rule.Bucket == bucket {
			list = append(list, c)
		} else if hasMeta(c.rule.Bucket) {
			if ok, _ := path.Match(c.rule.Bucket, bucket); ok {
				list = append(list, c)
			}
		}
	}
	v, _ := rs.cache.LoadOrStore(bucket, list)
	return v.([]*compiled)
}

func (c *compiled) matchKey(key string) bool {
	if c.keyPattern == "" {
		return true
	}
	if !strings.HasPrefix(key, c.keyPrefix) {
		return false
	}
	if len(c.keyPrefix) == len(c.keyPattern) {
		return key == c.keyPattern
	}
	ok, _ := doublestar.Match(c.keyPattern, key)
	return ok
}

func allIn(got []string, allowed map[string]bool) bool {
	if len(got) == 0 {
		return false
	}
	for _, p := range got {
		if !allowed[p] {
			return false
		}
	}
	return true
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

func isAccountID(s string) bool {
	return len(s) == 12 && strings.Trim(s, "0123456789") == ""
}

// CheckTrusted accepts what can name an account in a zone of trust: a
// 12-digit account ID (bucket policies name accounts so) or a canonical
// user ID (ACL grants name them so: 64 hex digits on AWS, a user name on
// radosgw and others). Digits alone must be an account ID's twelve: a
// mistyped account ID is refused, not taken for a canonical ID.
func CheckTrusted(id string) error {
	switch {
	case isAccountID(id):
		return nil
	case id == "" || len(id) > 128 || strings.Trim(id, "0123456789") == "":
		return fmt.Errorf("%q is not a 12-digit AWS account ID or a canonical user ID", id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_.@$-", c)) {
			return fmt.Errorf("%q is not a 12-digit AWS account ID or a canonical user ID", id)
		}
	}
	return nil
}

// Trust is a zone of trust: the accounts whose access is not external.
type Trust map[string]bool

// Trust is the zone of trust of the rules file's trusted_accounts and
// extra (a shell's own list); nil when both are empty. rs may be nil.
func (rs *Rules) Trust(extra []string) Trust {
	if rs == nil {
		return NewTrust(extra)
	}
	return NewTrust(extra, rs.TrustedAccounts)
}

// NewTrust makes a zone of trust of account IDs and canonical user IDs.
func NewTrust(ids ...[]string) Trust {
	t := Trust{}
	for _, list := range ids {
		for _, id := range list {
			t[strings.ToLower(id)] = true
		}
	}
	if len(t) == 0 {
		return nil
	}
	return t
}

// Split says which principals are trusted and whether every one is.
func (t Trust) Split(principals []string) (trusted []string, all bool) {
	all = len(principals) > 0
	for _, p := range principals {
		if t[strings.ToLower(p)] {
			trusted = append(trusted, p)
		} else {
			all = false
		}
	}
	return trusted, all
}

func kindNames() []string {
	var names []string
	for _, k := range acl.AllKinds() {
		names = append(names, k.String())
	}
	return names
}

// ruleLines finds the line of each rule in the document.
func ruleLines(doc *yaml.Node) []int {
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "rules" {
			var lines []int
			for _, n := range root.Content[i+1].Content {
				lines = append(lines, n.Line)
			}
			return lines
		}
	}
	return nil
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.TrimPrefix(err.Error(), "yaml: ")), " ")
}

// CrossAccountPrincipals lists who an object's cross-account sources
// reach, as account IDs where a principal names an account (an ARN, an
// account ID) and canonical IDs for ACL grantees: what a rule's
// principals are compared with.
func CrossAccountPrincipals(sources []acl.Source) []string {
	var out []string
	for _, s := range sources {
		if s.Finding != acl.CrossAccount.String() {
			continue
		}
		for _, p := range strings.Split(s.Principal, ", ") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, accountOf(p))
			}
		}
	}
	return out
}

// accountOf is the account an ARN names (arn:aws:iam::ACCOUNT:...), or p.
func accountOf(p string) string {
	if strings.HasPrefix(p, "arn:") {
		if parts := strings.SplitN(p, ":", 6); len(parts) == 6 && parts[4] != "" {
			return parts[4]
		}
	}
	return p
}
