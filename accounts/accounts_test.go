package accounts

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
)

func TestParseFile(t *testing.T) {
	d := FileDefaults{RoleName: "aclscan-audit", Partition: "aws"}
	for _, tc := range []struct {
		name, file string
		want       []Account
		err        string
	}{
		{name: "lines", file: "# audited\n111111111111 prod\n\narn:aws:iam::222222222222:role/path/audit dev\n", want: []Account{
			{ID: "111111111111", Name: "prod", RoleARN: "arn:aws:iam::111111111111:role/aclscan-audit"},
			{ID: "222222222222", Name: "dev", RoleARN: "arn:aws:iam::222222222222:role/path/audit"},
		}},
		{name: "c7n-org", file: `accounts:
- account_id: "111111111111"
  name: prod
  role: arn:aws:iam::111111111111:role/CloudCustodian
  external_id: x-1
  regions: [us-east-1]
  tags: ["env:prod", "team:data"]
- account_id: "222222222222"
  name: dev
  tags: {env: dev}
`, want: []Account{
			{ID: "111111111111", Name: "prod", RoleARN: "arn:aws:iam::111111111111:role/CloudCustodian", ExternalID: "x-1", Regions: []string{"us-east-1"}, Tags: map[string]string{"env": "prod", "team": "data"}},
			{ID: "222222222222", Name: "dev", RoleARN: "arn:aws:iam::222222222222:role/aclscan-audit", Tags: map[string]string{"env": "dev"}},
		}},
		{name: "a radosgw tenant's role", file: "arn:aws:iam::tenant1:role/aclscan\n", want: []Account{{ID: "tenant1", RoleARN: "arn:aws:iam::tenant1:role/aclscan"}}},
		{name: "twice", file: "111111111111\narn:aws:iam::111111111111:role/other\n", err: "account 111111111111 is listed twice (entries 1 and 2)"},
		{name: "not an account", file: "111111111111\n12345\n", err: `line 2: "12345" is neither a 12-digit account ID nor a role ARN`},
		{name: "bad ARN", file: "arn:aws:iam::111111111111:user/bob\n", err: "line 1: \"arn:aws:iam::111111111111:user/bob\" is not a role ARN"},
		{name: "empty", file: "# nothing\n", err: "no accounts in it"},
		{name: "YAML account and role disagree", file: "accounts:\n- account_id: \"111111111111\"\n  role: arn:aws:iam::222222222222:role/x\n", err: "accounts[0]: account_id 111111111111 but its role arn:aws:iam::222222222222:role/x is in account 222222222222"},
		{name: "YAML without account", file: "accounts:\n- name: lost\n", err: "accounts[0] (lost): no account_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFile([]byte(tc.file), d)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
	if _, err := ParseFile([]byte("111111111111\n"), FileDefaults{}); err == nil || !strings.Contains(err.Error(), "--account-role NAME") {
		t.Errorf("an ID without a role to assume: %v", err)
	}
}

func TestRoleARNAndPartition(t *testing.T) {
	for region, want := range map[string]string{"eu-west-1": "aws", "cn-north-1": "aws-cn", "us-gov-west-1": "aws-us-gov", "": "aws"} {
		if got := Partition(region); got != want {
			t.Errorf("Partition(%q) = %s, want %s", region, got, want)
		}
	}
	if arn, err := RoleARN("aws-cn", "111111111111", "audit"); err != nil || arn != "arn:aws-cn:iam::111111111111:role/audit" {
		t.Errorf("RoleARN: %s, %v", arn, err)
	}
	if _, err := RoleARN("aws", "111111111111", "a/b"); err == nil {
		t.Error("a role name with a slash was taken")
	}
	if _, err := FromRoles([]string{"arn:aws:iam::111111111111:role/a", "arn:aws:iam::111111111111:role/b"}, ""); err == nil {
		t.Error("the same account through two roles was taken: it would be scanned twice")
	}
}

// organizationsServer answers Organizations' JSON protocol from handlers
// by operation (X-Amz-Target AWSOrganizationsV20161128.OPERATION).
func organizationsServer(t *testing.T, ops map[string]func(in map[string]any) any) *organizations.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSOrganizationsV20161128.")
		h := ops[op]
		if h == nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"InvalidInputException","Message":"no `+op+` here"}`)
			return
		}
		var in map[string]any
		_ = json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(h(in))
	}))
	t.Cleanup(srv.Close)
	return organizations.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")},
		func(o *organizations.Options) { o.BaseEndpoint = aws.String(srv.URL) })
}

// AWS's ListAccounts sample (testdata/aws/organizations), served in two
// pages: every account of both, the role built in the partition, the OU
// path read from Paths; a suspended account kept, with why it is skipped.
func TestOrganizationListAccounts(t *testing.T) {
	raw, err := os.ReadFile("../testdata/aws/organizations/list-accounts.json")
	if err != nil {
		t.Fatal(err)
	}
	var sample struct{ Accounts []map[string]any }
	if err := json.Unmarshal(raw, &sample); err != nil {
		t.Fatal(err)
	}
	sample.Accounts[3]["State"], sample.Accounts[3]["Status"] = "SUSPENDED", "SUSPENDED"
	var pages atomic.Int32
	api := organizationsServer(t, map[string]func(map[string]any) any{
		"ListAccounts": func(in map[string]any) any {
			pages.Add(1)
			if in["NextToken"] == "page-2/=" {
				return map[string]any{"Accounts": sample.Accounts[2:]}
			}
			return map[string]any{"Accounts": sample.Accounts[:2], "NextToken": "page-2/="}
		},
	})
	got, err := Organization{RoleName: "aclscan", Partition: "aws"}.List(context.Background(), api)
	if err != nil {
		t.Fatal(err)
	}
	if pages.Load() != 2 || len(got) != 4 {
		t.Fatalf("%d pages, %d accounts: %+v", pages.Load(), len(got), got)
	}
	want := Account{ID: "222222222222", Name: "Production Account", RoleARN: "arn:aws:iam::222222222222:role/aclscan", OUPath: "r-examplerootid111/111111111111"}
	if fmt.Sprint(got[1]) != fmt.Sprint(want) {
		t.Errorf("second account %+v, want %+v", got[1], want)
	}
	if got[0].Skip != "" || got[3].Skip != "not active in the organization (suspended)" {
		t.Errorf("skips: %q, %q", got[0].Skip, got[3].Skip)
	}
}

// --ou walks the unit's tree (ListAccountsForParent and
// ListOrganizationalUnitsForParent, every page); --tag reads each
// account's tags and keeps those that hold them.
func TestOrganizationUnitsAndTags(t *testing.T) {
	account := func(id string) map[string]any { return map[string]any{"Id": id, "Name": "n" + id, "State": "ACTIVE"} }
	api := organizationsServer(t, map[string]func(map[string]any) any{
		"ListAccountsForParent": func(in map[string]any) any {
			switch in["ParentId"] {
			case "ou-root-prod":
				if in["NextToken"] == nil {
					return map[string]any{"Accounts": []any{account("111111111111")}, "NextToken": "t"}
				}
				return map[string]any{"Accounts": []any{account("222222222222")}}
			case "ou-root-prod-eu":
				return map[string]any{"Accounts": []any{account("333333333333")}}
			}
			return map[string]any{"Accounts": []any{}}
		},
		"ListOrganizationalUnitsForParent": func(in map[string]any) any {
			if in["ParentId"] == "ou-root-prod" {
				return map[string]any{"OrganizationalUnits": []any{map[string]any{"Id": "ou-root-prod-eu", "Name": "eu"}}}
			}
			return map[string]any{"OrganizationalUnits": []any{}}
		},
		"ListTagsForResource": func(in map[string]any) any {
			env := map[string]string{"111111111111": "prod", "222222222222": "dev", "333333333333": "prod"}[in["ResourceId"].(string)]
			return map[string]any{"Tags": []any{map[string]any{"Key": "env", "Value": env}}}
		},
	})
	got, err := Organization{RoleName: "aclscan", OUs: []string{"ou-root-prod"}}.List(context.Background(), api)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range got {
		ids = append(ids, a.ID)
	}
	if strings.Join(ids, ",") != "111111111111,222222222222,333333333333" {
		t.Errorf("accounts under the unit: %v", ids)
	}
	got, err = Organization{RoleName: "aclscan", OUs: []string{"ou-root-prod"}, Tags: []string{"env=prod"}}.List(context.Background(), api)
	if err != nil || len(got) != 2 || got[0].ID != "111111111111" || got[1].ID != "333333333333" {
		t.Errorf("tagged env=prod: %+v, %v", got, err)
	}
	if _, err := (Organization{RoleName: "aclscan"}).List(context.Background(), api); err == nil || !strings.Contains(err.Error(), "organizations:ListAccounts") {
		t.Errorf("an organization that cannot be listed: %v", err)
	}
}

// stsServer answers AssumeRole with sessions that expire after life,
// or AccessDenied for roles named "denied".
func stsServer(t *testing.T, life time.Duration, calls *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		n := calls.Add(1)
		if strings.Contains(r.Form.Get("RoleArn"), "throttled") && n <= 2 {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
			return
		}
		if strings.Contains(r.Form.Get("RoleArn"), "denied") {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::999999999999:user/audit is not authorized to perform: sts:AssumeRole on resource: `+r.Form.Get("RoleArn")+`</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
			return
		}
		if r.Form.Get("DurationSeconds") != "3600" || r.Form.Get("RoleSessionName") != "aclscan" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, `<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIA%d</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>tok</SessionToken><Expiration>%s</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>`,
			calls.Load(), time.Now().Add(life).UTC().Format(time.RFC3339))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A session is assumed once and kept; one that nears its expiry is
// assumed again before a request could meet it expired; a role that
// cannot be assumed fails at once, naming it.
func TestSessions(t *testing.T) {
	caller := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}
	var calls atomic.Int32
	s := &Sessions{STS: NewSTS(caller, stsServer(t, time.Hour, &calls).URL)}
	a := Account{ID: "111111111111", RoleARN: "arn:aws:iam::111111111111:role/aclscan"}
	ctx := context.Background()
	if err := s.Open(ctx, a); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := s.For(a).Retrieve(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if s.Calls(a) != 1 {
		t.Errorf("%d AssumeRole calls for six uses of a fresh session, want 1", s.Calls(a))
	}

	// Sessions that live less than RefreshBefore: each use assumes again.
	var shortCalls atomic.Int32
	short := &Sessions{STS: NewSTS(caller, stsServer(t, RefreshBefore/2, &shortCalls).URL)}
	for range 3 {
		if _, err := short.For(a).Retrieve(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if short.Calls(a) != 3 {
		t.Errorf("%d AssumeRole calls for three uses of sessions inside the refresh window, want 3", short.Calls(a))
	}

	// STS throttling: backed off and tried again, the session assumed.
	var throttledCalls atomic.Int32
	throttling := &Sessions{STS: NewSTS(caller, stsServer(t, time.Hour, &throttledCalls).URL)}
	slow := Account{ID: "333333333333", RoleARN: "arn:aws:iam::333333333333:role/throttled"}
	if err := throttling.Open(ctx, slow); err != nil || throttledCalls.Load() != 3 {
		t.Errorf("throttled twice: %v after %d calls; want the session on the third", err, throttledCalls.Load())
	}

	denied := Account{ID: "222222222222", RoleARN: "arn:aws:iam::222222222222:role/denied", ExternalID: "x"}
	start := time.Now()
	err := s.Open(ctx, denied)
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("denied role: %v after %s", err, time.Since(start))
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "cannot assume arn:aws:iam::222222222222:role/denied in account 222222222222: AccessDenied") ||
		!strings.Contains(msg, "and the external ID?") || strings.Contains(msg, "\n") {
		t.Errorf("denied: %q", msg)
	}
}
