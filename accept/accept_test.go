package accept

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aclscan/aclscan/acl"
)

var today = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

const sample = `
rules:
  - id: website-assets
    bucket: example-site
    key: "assets/**"
    findings: [public]
    reason: the public website's images and styles
  - id: old-campaign
    bucket: example-site
    key: "campaign-2025/**"
    findings: [public]
    reason: last year's campaign
    expires: 2026-01-31
  - id: partner-drop
    bucket: "exchange-*"
    key: "partner-a/*.csv"
    findings: [cross-account]
    principals: ["111122223333"]
    reason: partner A reads what we drop for it
  - id: datasets
    bucket: open-data
    findings: [public, authenticated]
    reason: a public dataset
trusted_accounts: ["444455556666"]
`

// Rules match by bucket (a name or a glob), key (a glob over the whole
// key, ** across /) and finding kind; expired rules no longer apply;
// principals narrow a cross-account rule to the accounts named.
func TestMatch(t *testing.T) {
	t.Parallel()
	rs, err := Parse([]byte(sample), today)
	if err != nil {
		t.Fatal(err)
	}
	public := acl.Findings(0).With(acl.Public)
	cross := acl.Findings(0).With(acl.CrossAccount)
	partner := func() []string { return []string{"111122223333"} }
	stranger := func() []string { return []string{"111122223333", "999999999999"} }
	for _, tc := range []struct {
		bucket, key string
		findings    acl.Findings
		principals  func() []string
		want        acl.Findings
		rule        string
	}{
		{"example-site", "assets/img/logo.png", public, nil, public, "website-assets"},
		{"example-site", "assets/img/logo.png", public.With(acl.CrossAccount), nil, public, "website-assets"},
		{"example-site", "drafts/plan.txt", public, nil, 0, ""},
		{"example-site", "assetsX/logo.png", public, nil, 0, ""},
		{"other-site", "assets/logo.png", public, nil, 0, ""},
		{"example-site", "campaign-2025/banner.png", public, nil, 0, ""}, // expired
		{"exchange-eu", "partner-a/2026.csv", cross, partner, cross, "partner-drop"},
		{"exchange-eu", "partner-a/2026.csv", cross, stranger, 0, ""},
		{"exchange-eu", "partner-a/sub/2026.csv", cross, partner, 0, ""}, // * stays within a folder
		{"open-data", "any/key/at/all", public.With(acl.Authenticated), nil, public.With(acl.Authenticated), "datasets"},
	} {
		got, by := rs.Match(tc.bucket, tc.key, tc.findings, tc.principals)
		name := ""
		if by != nil {
			name = by.Rule
		}
		if got != tc.want || name != tc.rule {
			t.Errorf("%s/%s %v: accepted %v by %q; want %v by %q", tc.bucket, tc.key, tc.findings.Names(), got.Names(), name, tc.want.Names(), tc.rule)
		}
	}
	if len(rs.Expired) != 1 || rs.Expired[0].ID != "old-campaign" {
		t.Errorf("expired %+v", rs.Expired)
	}
	if un := rs.Unmatched(); len(un) != 0 {
		t.Errorf("unmatched %v; every live rule matched once", un)
	}
	if rs.WholeBucket("open-data") != public.With(acl.Authenticated) || rs.WholeBucket("example-site") != 0 {
		t.Errorf("whole-bucket kinds %v, %v", rs.WholeBucket("open-data").Names(), rs.WholeBucket("example-site").Names())
	}
	if len(rs.TrustedAccounts) != 1 {
		t.Errorf("trusted accounts %v", rs.TrustedAccounts)
	}
}

// A rule that matched nothing is listed, so it can be deleted.
func TestUnmatched(t *testing.T) {
	t.Parallel()
	rs, err := Parse([]byte(sample), today)
	if err != nil {
		t.Fatal(err)
	}
	rs.Match("example-site", "assets/a.png", acl.Findings(0).With(acl.Public), nil)
	var names []string
	for _, r := range rs.Unmatched() {
		names = append(names, r.Name())
	}
	if strings.Join(names, ",") != "partner-drop,datasets" {
		t.Errorf("unmatched %v", names)
	}
}

// A malformed file gets one line naming the rule and the field.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	rule := func(fields string) string { return "rules:\n  - id: r1\n" + fields }
	for name, tc := range map[string]struct{ doc, want string }{
		"no reason":       {rule("    bucket: b\n    findings: [public]\n"), "rule r1: reason: required"},
		"no bucket":       {rule("    findings: [public]\n    reason: x\n"), "rule r1: bucket: required"},
		"no findings":     {rule("    bucket: b\n    reason: x\n"), "rule r1: findings: required"},
		"unknown kind":    {rule("    bucket: b\n    findings: [pubic]\n    reason: x\n"), `rule r1: findings: "pubic" is not a finding kind`},
		"bad date":        {rule("    bucket: b\n    findings: [public]\n    reason: x\n    expires: next year\n"), `rule r1: expires: "next year" is not a date`},
		"bad key glob":    {rule("    bucket: b\n    key: \"a/[\"\n    findings: [public]\n    reason: x\n"), `rule r1: key: "a/[" is not a valid glob`},
		"bucket with /":   {rule("    bucket: b/c\n    findings: [public]\n    reason: x\n"), `rule r1: bucket: "b/c" is not a bucket name or glob`},
		"principals":      {rule("    bucket: b\n    findings: [public]\n    principals: [\"1\"]\n    reason: x\n"), "rule r1: principals: only for findings [cross-account]"},
		"unknown field":   {rule("    bucket: b\n    findings: [public]\n    reason: x\n    prefix: a/\n"), "field prefix not found"},
		"duplicate id":    {"rules:\n  - {id: a, bucket: b, findings: [public], reason: x}\n  - {id: a, bucket: c, findings: [public], reason: y}\n", "rule a: id: used by an earlier rule too"},
		"no id, by line":  {"rules:\n  - bucket: b\n    findings: [public]\n", "rule the rule at line 2: reason: required"},
		"trusted account": {"trusted_accounts: [\"12345\"]\n", `trusted_accounts: "12345" is not a 12-digit AWS account ID or a canonical user ID`},
		"trusted id":      {"trusted_accounts: [\"a b\"]\n", `trusted_accounts: "a b" is not`},
		"not yaml":        {"rules: [\n", "not YAML"},
	} {
		_, err := Parse([]byte(tc.doc), today)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err %v; want one line with %q", name, err, tc.want)
		}
	}
	if rs, err := Parse(nil, today); err != nil || rs.Len() != 0 {
		t.Errorf("an empty file: %v, %d rules", err, rs.Len())
	}
}

// Matching 1,000 rules: most objects are in buckets no rule names, and a
// named bucket's rules are mostly turned away by their key prefix.
func BenchmarkMatch(b *testing.B) {
	var doc strings.Builder
	doc.WriteString("rules:\n")
	for i := range 1000 {
		fmt.Fprintf(&doc, "  - {id: r%d, bucket: bucket-%d, key: \"prefix-%d/**\", findings: [public], reason: x}\n", i, i%50, i)
	}
	rs, err := Parse([]byte(doc.String()), today)
	if err != nil {
		b.Fatal(err)
	}
	public := acl.Findings(0).With(acl.Public)
	b.Run("bucket without rules", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rs.Match("elsewhere", "prefix-7/a/b.png", public, nil)
		}
	})
	b.Run("bucket with 20 rules, no match", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rs.Match("bucket-7", "other/a/b.png", public, nil)
		}
	})
	b.Run("bucket with 20 rules, match", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rs.Match("bucket-7", "prefix-7/a/b.png", public, nil)
		}
	})
}

// Who an object's cross-account sources reach, as a zone of trust or a
// rule's principals compare them: the account of a policy's ARN, the
// canonical ID of an ACL grantee; other findings' principals left out.
func TestCrossAccountPrincipalsAndTrust(t *testing.T) {
	t.Parallel()
	sources := []acl.Source{
		{Finding: "cross-account", Door: acl.DoorBucketPolicy, Principal: "arn:aws:iam::111122223333:root, 444455556666"},
		{Finding: "cross-account", Door: acl.DoorACL, Principal: "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
		{Finding: "public", Door: acl.DoorACL, Principal: "http://acs.amazonaws.com/groups/global/AllUsers"},
	}
	got := CrossAccountPrincipals(sources)
	want := "111122223333,444455556666,79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
	if strings.Join(got, ",") != want {
		t.Fatalf("principals %v, want %s", got, want)
	}
	trust := NewTrust([]string{"111122223333", "444455556666"})
	if trusted, all := trust.Split(got); all || len(trusted) != 2 {
		t.Errorf("split %v %v; want two trusted, not all", trusted, all)
	}
	trust = NewTrust([]string{"111122223333", "444455556666"}, []string{"79A59DF900B949E55D96A1E698FBACEDFD6E09D98EACF8F8D5218E7CD47EF2BE"})
	if _, all := trust.Split(got); !all {
		t.Error("every principal is trusted (IDs compared without case), yet not all")
	}
	if NewTrust(nil, nil) != nil || (*Rules)(nil).Trust(nil) != nil {
		t.Error("an empty zone of trust is not nil")
	}
	rs, err := Parse([]byte(sample), today)
	if err != nil {
		t.Fatal(err)
	}
	if z := rs.Trust([]string{"111122223333"}); !z["111122223333"] || !z["444455556666"] || len(z) != 2 {
		t.Errorf("the file's zone with the shell's: %v", z)
	}
}
