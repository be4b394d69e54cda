// Package readiness drafts what a bucket needs before its ACLs can be
// disabled (Object Ownership BucketOwnerEnforced): a bucket policy that
// keeps the access its ACLs give today, written from a scan's results.
// Nothing here changes a bucket; the draft is for a person to review.
package readiness

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/policy"
	"github.com/aclscan/aclscan/scan"
)

// PolicySizeLimit is S3's limit on a bucket policy's size.
const PolicySizeLimit = 20 << 10

// Draft is a scan.Sink that collects the access object ACLs give to
// others, grouped by grantee and permission, and the number of objects
// under every prefix, so that a grant every object under a prefix has
// becomes one prefix/* resource instead of a list of keys.
type Draft struct {
	bucket string
	// objects counts every object under each "directory" prefix ("" is
	// the bucket), to tell when a grant covers a whole prefix.
	objects map[string]int64
	groups  map[grantGroup][]string
	// skipped are grants a policy cannot express, by reason.
	skipped map[string]int64
	// checked are the objects the draft is checked against (Verify);
	// unchecked counts those left out past the bound.
	checked   []checked
	unchecked int
}

// grantGroup is one grantee holding one set of actions.
type grantGroup struct {
	principal string // JSON of the Principal element
	actions   string // comma-joined, sorted
	public    bool
}

// NewDraft returns an empty draft for bucket.
func NewDraft(bucket string) *Draft {
	return &Draft{bucket: bucket, objects: map[string]int64{}, groups: map[grantGroup][]string{}, skipped: map[string]int64{}}
}

// Write takes one result. Only access that is effective today is kept: a
// public grant S3 ignores (IgnorePublicAcls) gives nothing now, and a
// policy granting it would open the object.
func (d *Draft) Write(r *scan.Result) error {
	for _, p := range prefixes(r.Key) {
		d.objects[p]++
	}
	if r.Status != scan.StatusOK || r.ViaACL&grantKinds == 0 {
		d.remember(r, nil)
		return nil
	}
	readers := map[string]policy.Actions{}
	defer func() { d.remember(r, readers) }()
	owner := r.OwnerID
	for _, g := range r.Grants {
		kind, ok := grantKind(g, owner)
		if !ok || !r.ViaACL.Has(kind) {
			continue
		}
		principal, reason := principalOf(g)
		if reason != "" {
			d.skipped[reason]++
			continue
		}
		actions := objectActions(g.Permission, r.Versioned)
		if len(actions) == 0 {
			d.skipped["permission "+g.Permission+" has no meaning for an object once ACLs are disabled"]++
			continue
		}
		reach := policy.CurrentActions
		if r.Versioned {
			reach = policy.ObjectActions
		}
		readers[policyPrincipal(g)] |= acl.PermissionActions(g.Permission) & reach
		group := grantGroup{principal: principal, actions: strings.Join(actions, ","), public: kind == acl.Public}
		keys := d.groups[group]
		if len(keys) == 0 || keys[len(keys)-1] != r.Key {
			d.groups[group] = append(keys, r.Key)
		}
	}
	return nil
}

// grantKinds are the findings a bucket policy can carry over.
const grantKinds acl.Findings = 1<<acl.Public | 1<<acl.Authenticated | 1<<acl.CrossAccount

// grantKind is the finding one grant makes, false for the owner's own.
func grantKind(g acl.Grant, owner string) (acl.Kind, bool) {
	switch f := acl.Classify(owner, owner, []acl.Grant{g}); {
	case f.Has(acl.Public):
		return acl.Public, true
	case f.Has(acl.Authenticated):
		return acl.Authenticated, true
	case f.Has(acl.CrossAccount):
		return acl.CrossAccount, true
	}
	return 0, false
}

// principalOf is the policy's Principal for a grantee, or why there is
// none.
func principalOf(g acl.Grant) (string, string) {
	switch {
	case g.Type == acl.TypeGroup && strings.HasSuffix(g.URI, "/AllUsers"):
		return `"*"`, ""
	case g.Type == acl.TypeGroup && strings.HasSuffix(g.URI, "/AuthenticatedUsers"):
		return "", "grants to AuthenticatedUsers (any AWS account) have no exact policy equivalent: decide who needs access and grant those accounts"
	case g.Type == acl.TypeCanonicalUser && g.ID != "":
		b, _ := json.Marshal(map[string]string{"CanonicalUser": g.ID})
		return string(b), ""
	case g.Type == acl.TypeEmail:
		return "", "grants by email address cannot be named in a policy: find the account and grant it"
	}
	return "", "grants to " + g.Type + " " + g.URI + g.ID + " have no policy equivalent"
}

// objectActions are the policy actions that keep what an object grant's
// permission allows (WRITE_ACP means nothing once ACLs are disabled).
func objectActions(permission string, versioned bool) []string {
	var actions []string
	read := permission == "READ" || permission == "FULL_CONTROL"
	if read {
		actions = append(actions, "s3:GetObject")
		if versioned {
			actions = append(actions, "s3:GetObjectVersion")
		}
	}
	if permission == "READ_ACP" || permission == "FULL_CONTROL" {
		actions = append(actions, "s3:GetObjectAcl")
		if versioned {
			actions = append(actions, "s3:GetObjectVersionAcl")
		}
	}
	sort.Strings(actions)
	return actions
}

// prefixes are the "directories" a key is under, the bucket ("") first.
func prefixes(key string) []string {
	out := []string{""}
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			out = append(out, key[:i+1])
		}
	}
	return out
}

// Policy is a bucket policy document.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a bucket policy.
type Statement struct {
	Sid       string          `json:"Sid"`
	Effect    string          `json:"Effect"`
	Principal json.RawMessage `json:"Principal"`
	Action    []string        `json:"Action"`
	Resource  []string        `json:"Resource"`
}

// Result is a drafted policy and what the reviewer must know of it.
type Result struct {
	Policy Policy
	// JSON is the policy as written, indented.
	JSON []byte
	// Warnings are one line each: grants left out, public statements, size.
	Warnings []string
}

// Empty reports whether the draft keeps nothing: no policy is needed.
func (r *Result) Empty() bool { return len(r.Policy.Statement) == 0 }

// Policy drafts the bucket policy: the bucket ACL's grants to others
// (bucket grants moved first, or disabling ACLs fails), then the objects'.
func (d *Draft) Policy(bucketACL []acl.Grant, owner string) (*Result, error) {
	res := &Result{Policy: Policy{Version: "2012-10-17", Statement: []Statement{}}}
	arn := "arn:aws:s3:::" + d.bucket
	for i, g := range bucketACL {
		if g.Type == acl.TypeCanonicalUser && g.ID == owner {
			continue
		}
		st, warn := bucketStatement(g, arn)
		if warn != "" {
			res.Warnings = append(res.Warnings, warn)
		}
		if st != nil {
			st.Sid = fmt.Sprintf("BucketACLGrant%d", i+1)
			res.Policy.Statement = append(res.Policy.Statement, *st)
		}
	}
	groups := make([]grantGroup, 0, len(d.groups))
	for g := range d.groups {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool {
		if groups[i].principal != groups[j].principal {
			return groups[i].principal < groups[j].principal
		}
		return groups[i].actions < groups[j].actions
	})
	for i, g := range groups {
		st := Statement{
			Sid:       fmt.Sprintf("ObjectACLGrants%d", i+1),
			Effect:    "Allow",
			Principal: json.RawMessage(g.principal),
			Action:    strings.Split(g.actions, ","),
			Resource:  d.resources(arn, d.groups[g]),
		}
		res.Policy.Statement = append(res.Policy.Statement, st)
		if g.public {
			res.Warnings = append(res.Warnings, fmt.Sprintf("statement %s makes %d resources readable by anyone, as their ACLs do today: keep it only if they must stay public (Block Public Access's BlockPublicPolicy refuses it)", st.Sid, len(st.Resource)))
		}
	}
	reasons := make([]string, 0, len(d.skipped))
	for reason := range d.skipped {
		reasons = append(reasons, reason)
	}
	sort.Strings(reasons)
	for _, reason := range reasons {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d object grants left out: %s", d.skipped[reason], reason))
	}
	var err error
	if res.JSON, err = json.MarshalIndent(res.Policy, "", "  "); err != nil {
		return nil, err
	}
	res.JSON = append(res.JSON, '\n')
	if len(res.JSON) > PolicySizeLimit {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the draft is %d bytes, over the 20 KB bucket policy limit: group the objects under fewer prefixes (move them) or grant through an access point", len(res.JSON)))
	}
	return res, nil
}

// resources turns granted keys into ARNs: a prefix all of whose objects
// have the grant becomes prefix/*, the rest stay keys.
func (d *Draft) resources(arn string, keys []string) []string {
	granted := map[string]int64{}
	for _, k := range keys {
		for _, p := range prefixes(k) {
			granted[p]++
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		res := arn + "/" + literal(k)
		for _, p := range prefixes(k) {
			if granted[p] == d.objects[p] {
				res = arn + "/" + literal(p) + "*"
				break
			}
		}
		if !seen[res] {
			seen[res] = true
			out = append(out, res)
		}
	}
	sort.Strings(out)
	return out
}

// literal writes a key so that a policy's Resource matches it alone: *
// and ? are wildcards there, and ${...} a variable (policy Version
// 2012-10-17 spells the characters themselves ${*}, ${?} and ${$}).
func literal(key string) string {
	if !strings.ContainsAny(key, "*?$") {
		return key
	}
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		switch c := key[i]; c {
		case '*', '?', '$':
			b.WriteString("${" + string(c) + "}")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// bucketStatement carries one bucket ACL grant to a statement, or says
// why it cannot.
func bucketStatement(g acl.Grant, arn string) (*Statement, string) {
	var principal string
	switch {
	case g.Type == acl.TypeGroup && strings.HasSuffix(g.URI, "/LogDelivery"):
		// Server access logs: AWS's replacement for the group grant.
		principal = `{"Service":"logging.s3.amazonaws.com"}`
		if g.Permission != "WRITE" && g.Permission != "FULL_CONTROL" {
			return nil, ""
		}
		return &Statement{Effect: "Allow", Principal: json.RawMessage(principal), Action: []string{"s3:PutObject"}, Resource: []string{arn + "/*"}},
			"the bucket ACL's LogDelivery grant becomes a statement for logging.s3.amazonaws.com: add conditions on the source bucket and account (aws:SourceArn, aws:SourceAccount)"
	default:
		var reason string
		if principal, reason = principalOf(g); reason != "" {
			return nil, "bucket ACL grant left out: " + reason
		}
	}
	var actions []string
	resources := []string{arn}
	switch g.Permission {
	case "READ":
		actions = []string{"s3:ListBucket"}
	case "WRITE":
		actions, resources = []string{"s3:DeleteObject", "s3:PutObject"}, []string{arn + "/*"}
	case "READ_ACP":
		actions = []string{"s3:GetBucketAcl"}
	case "FULL_CONTROL":
		actions, resources = []string{"s3:DeleteObject", "s3:GetBucketAcl", "s3:ListBucket", "s3:PutObject"}, []string{arn, arn + "/*"}
	default:
		return nil, "bucket ACL grant of " + g.Permission + " left out: it has no meaning once ACLs are disabled"
	}
	warn := ""
	if principal == `"*"` {
		warn = "the bucket ACL grants " + g.Permission + " to anyone: the drafted statement keeps that; drop it unless the bucket must stay public"
	}
	return &Statement{Effect: "Allow", Principal: json.RawMessage(principal), Action: actions, Resource: resources}, warn
}

// Drafts keeps one draft per bucket, for runs over many buckets; as a
// scan.Sink it hands each result to its bucket's draft.
type Drafts map[string]*Draft

// For returns the bucket's draft, made on first use.
func (ds Drafts) For(bucket string) *Draft {
	d := ds[bucket]
	if d == nil {
		d = NewDraft(bucket)
		ds[bucket] = d
	}
	return d
}

// Write hands r to its bucket's draft.
func (ds Drafts) Write(r *scan.Result) error { return ds.For(r.Bucket).Write(r) }
