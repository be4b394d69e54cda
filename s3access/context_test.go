package s3access

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// awsSettings answers the bucket- and account-level reads the way AWS
// documents them (XML bodies and error codes), for what radosgw cannot
// produce: Object Ownership, S3 Control's account settings, STS. The
// integration tests read the same settings from radosgw where it has them.
type awsSettings struct {
	mu sync.Mutex
	// answers maps a request kind to status and body; kinds: acl,
	// ownershipControls, publicAccessBlock, policyStatus, policy, sts, control.
	answers map[string]fakeAnswer
	seen    map[string]int
	// accountHeader is the x-amz-account-id S3 Control was asked with.
	accountHeader string
}

type fakeAnswer struct {
	status int
	body   string
}

func (f *awsSettings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	kind := ""
	switch {
	case r.Method == http.MethodPost:
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), "Action=GetCallerIdentity") {
			kind = "sts"
		}
	case strings.HasPrefix(r.URL.Path, "/v20180820/configuration/publicAccessBlock"):
		kind = "control"
	case r.URL.Path == "/v20180820/accesspoint":
		kind = "accesspoints?" + q.Get("bucket")
	case strings.HasPrefix(r.URL.Path, "/v20180820/accesspoint/"):
		// accesspoint/NAME and accesspoint/NAME/policy
		kind = strings.TrimPrefix(r.URL.Path, "/v20180820/")
	default:
		for _, k := range []string{"acl", "ownershipControls", "publicAccessBlock", "policyStatus", "policy"} {
			if q.Has(k) {
				kind = k
			}
		}
	}
	f.mu.Lock()
	f.seen[kind]++
	if kind == "control" {
		f.accountHeader = r.Header.Get("X-Amz-Account-Id")
	}
	a, ok := f.answers[kind]
	f.mu.Unlock()
	if !ok {
		a = fakeAnswer{501, s3Error("NotImplemented")}
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(a.status)
	fmt.Fprint(w, a.body)
}

func s3Error(code string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>m</Message></Error>`
}

// S3 Control wraps its errors in ErrorResponse.
func controlError(code string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><ErrorResponse><Error><Code>` + code + `</Code><Message>m</Message></Error></ErrorResponse>`
}

const (
	ownerACL = `<AccessControlPolicy><Owner><ID>owner-id</ID></Owner><AccessControlList>` +
		`<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>owner-id</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant>` +
		`<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/s3/LogDelivery</URI></Grantee><Permission>WRITE</Permission></Grant>` +
		`</AccessControlList></AccessControlPolicy>`
	enforced      = `<OwnershipControls><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule></OwnershipControls>`
	ignoreBlock   = `<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>false</BlockPublicPolicy><RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>`
	publicPolicy  = `<PolicyStatus><IsPublic>true</IsPublic></PolicyStatus>`
	callerAccount = `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/x</Arn><UserId>AIDA</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>`
)

func settingsClient(t *testing.T, f *awsSettings, opts Options) *Client {
	t.Helper()
	f.seen = map[string]int{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	opts.EndpointURL = srv.URL
	if opts.ControlEndpointURL == "-" {
		opts.ControlEndpointURL = ""
	} else {
		opts.STSEndpointURL, opts.ControlEndpointURL = srv.URL, srv.URL
	}
	opts.Credentials = StaticCredentials("AKIDTEST", "secret", "")
	opts.MaxAttempts = 1
	c, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBucketContextAsAWSAnswers(t *testing.T) {
	t.Parallel()
	f := &awsSettings{answers: map[string]fakeAnswer{
		"acl":               {200, ownerACL},
		"ownershipControls": {200, enforced},
		"publicAccessBlock": {200, ignoreBlock},
		"policyStatus":      {200, publicPolicy},
		"sts":               {200, callerAccount},
		"control":           {404, controlError("NoSuchPublicAccessBlockConfiguration")},
	}}
	c := settingsClient(t, f, Options{})
	bc, err := c.BucketContext(context.Background(), "bkt")
	if err != nil {
		t.Fatal(err)
	}
	if bc.Owner != "owner-id" || !bc.ACL.Known || len(bc.ACL.Value) != 2 {
		t.Errorf("bucket ACL: owner %q, %+v", bc.Owner, bc.ACL)
	}
	if !bc.ACLsDisabled() {
		t.Errorf("ownership %+v, want BucketOwnerEnforced", bc.Ownership)
	}
	if !bc.BucketBlock.Known || !bc.BucketBlock.Value.IgnorePublicACLs || !bc.BucketBlock.Value.BlockPublicACLs || bc.BucketBlock.Value.BlockPublicPolicy {
		t.Errorf("bucket block %+v", bc.BucketBlock)
	}
	// No account configuration is a known "nothing blocked", not unknown.
	if !bc.AccountBlock.Known || bc.AccountBlock.Value != (acl.PublicAccessBlock{}) {
		t.Errorf("account block %+v, want known and all off", bc.AccountBlock)
	}
	if f.accountHeader != "123456789012" {
		t.Errorf("S3 Control asked for account %q, want the caller's from STS", f.accountHeader)
	}
	if !bc.PolicyPublic.Known || !bc.PolicyPublic.Value {
		t.Errorf("policy status %+v", bc.PolicyPublic)
	}
	// The account is read once per client, whatever the buckets.
	if _, err := c.BucketContext(context.Background(), "other"); err != nil {
		t.Fatal(err)
	}
	if f.seen["sts"] != 1 || f.seen["control"] != 1 || f.seen["acl"] != 2 {
		t.Errorf("requests %v; want the account's read once and each bucket's ACL once", f.seen)
	}
}

func TestBucketContextNotConfigured(t *testing.T) {
	t.Parallel()
	f := &awsSettings{answers: map[string]fakeAnswer{
		"acl":               {200, ownerACL},
		"ownershipControls": {404, s3Error("OwnershipControlsNotFoundError")},
		"publicAccessBlock": {404, s3Error("NoSuchPublicAccessBlockConfiguration")},
		"policyStatus":      {404, s3Error("NoSuchBucketPolicy")},
		"control":           {200, ignoreBlock},
	}}
	// An account ID given: STS is not asked.
	bc, err := settingsClient(t, f, Options{AccountID: "210987654321"}).BucketContext(context.Background(), "bkt")
	if err != nil {
		t.Fatal(err)
	}
	if !bc.Ownership.Known || bc.Ownership.Value != acl.ObjectWriter {
		t.Errorf("ownership %+v, want ObjectWriter (no controls)", bc.Ownership)
	}
	if !bc.BucketBlock.Known || bc.BucketBlock.Value != (acl.PublicAccessBlock{}) || !bc.PolicyPublic.Known || bc.PolicyPublic.Value {
		t.Errorf("block %+v policy %+v; want known, nothing on", bc.BucketBlock, bc.PolicyPublic)
	}
	if !bc.AccountBlock.Known || !bc.AccountBlock.Value.IgnorePublicACLs || f.seen["sts"] != 0 || f.accountHeader != "210987654321" {
		t.Errorf("account block %+v (sts asked %d times, account %q)", bc.AccountBlock, f.seen["sts"], f.accountHeader)
	}
}

// radosgw's answers: Block Public Access under another root name, and
// the bucket's listing for the Object Ownership it does not implement
// (not decoded past its root).
func TestBucketContextAsRadosgwAnswers(t *testing.T) {
	t.Parallel()
	rgwBlock := strings.ReplaceAll(ignoreBlock, "PublicAccessBlockConfiguration>", "BlockPublicAccessBlockConfiguration>")
	listing := `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bkt</Name><Contents><Key>a</Key></Contents>` + strings.Repeat("<Contents><Key>k</Key></Contents>", 1000) + `</ListBucketResult>`
	f := &awsSettings{answers: map[string]fakeAnswer{
		"acl":               {200, ownerACL},
		"ownershipControls": {200, listing},
		"publicAccessBlock": {200, rgwBlock},
		"policyStatus":      {200, `<PolicyStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsPublic>true</IsPublic></PolicyStatus>`},
		"control":           {200, ignoreBlock},
	}}
	bc, err := settingsClient(t, f, Options{AccountID: "210987654321"}).BucketContext(context.Background(), "bkt")
	if err != nil {
		t.Fatal(err)
	}
	if bc.Ownership.Known || !strings.Contains(bc.Ownership.Problem, "does not implement Object Ownership") {
		t.Errorf("ownership %+v, want unknown: the server does not implement it", bc.Ownership)
	}
	want := acl.PublicAccessBlock{BlockPublicACLs: true, IgnorePublicACLs: true}
	if !bc.BucketBlock.Known || bc.BucketBlock.Value != want || !bc.PolicyPublic.Known || !bc.PolicyPublic.Value {
		t.Errorf("block %+v policy %+v; want %+v and public", bc.BucketBlock, bc.PolicyPublic, want)
	}
}

// Every setting that cannot be read says why in one line; none is taken
// as blocking anything. Only a bucket that cannot be scanned at all is an
// error.
func TestBucketContextUnreadable(t *testing.T) {
	t.Parallel()
	denied := fakeAnswer{403, s3Error("AccessDenied")}
	f := &awsSettings{answers: map[string]fakeAnswer{
		"acl": denied, "ownershipControls": denied, "publicAccessBlock": denied, "policyStatus": denied, "policy": denied,
		"sts": {403, `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>m</Message></Error></ErrorResponse>`},
	}}
	bc, err := settingsClient(t, f, Options{}).BucketContext(context.Background(), "bkt")
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]struct {
		known   bool
		problem string
		want    string
	}{
		"acl":       {bc.ACL.Known, bc.ACL.Problem, "GetBucketAcl was denied (the identity needs s3:GetBucketAcl)"},
		"ownership": {bc.Ownership.Known, bc.Ownership.Problem, "GetBucketOwnershipControls was denied (the identity needs s3:GetBucketOwnershipControls)"},
		"block":     {bc.BucketBlock.Known, bc.BucketBlock.Problem, "GetPublicAccessBlock was denied (the identity needs s3:GetBucketPublicAccessBlock)"},
		"policy":    {bc.PolicyPublic.Known, bc.PolicyPublic.Problem, "GetBucketPolicyStatus was denied (the identity needs s3:GetBucketPolicyStatus)"},
		"document":  {bc.Policy.Known, bc.Policy.Problem, "GetBucketPolicy was denied (the identity needs s3:GetBucketPolicy)"},
		"account":   {bc.AccountBlock.Known, bc.AccountBlock.Problem, "the account ID is unknown: STS GetCallerIdentity was denied (the identity needs sts:GetCallerIdentity)"},
	} {
		if r.known || r.problem != r.want {
			t.Errorf("%s: known %v, problem %q; want %q", name, r.known, r.problem, r.want)
		}
	}
	judge := acl.NewJudge(&bc)
	if judge.Blocked() != 0 {
		t.Errorf("unreadable settings block %v; want nothing", judge.Blocked().Names())
	}

	// radosgw's answers: ownership controls as another document, no S3 Control.
	f = &awsSettings{answers: map[string]fakeAnswer{
		"acl": {200, ownerACL}, "ownershipControls": {200, `<ListBucketResult><Name>bkt</Name></ListBucketResult>`},
	}}
	bc, err = settingsClient(t, f, Options{ControlEndpointURL: "-"}).BucketContext(context.Background(), "bkt")
	if err != nil {
		t.Fatal(err)
	}
	if bc.Ownership.Known || !strings.Contains(bc.Ownership.Problem, "does not implement Object Ownership") {
		t.Errorf("ownership %+v", bc.Ownership)
	}
	if bc.AccountBlock.Known || !strings.Contains(bc.AccountBlock.Problem, "S3 endpoint is not AWS") || f.seen["sts"]+f.seen["control"] != 0 {
		t.Errorf("account %+v, %v; want not read, nothing sent", bc.AccountBlock, f.seen)
	}
	if bc.BucketBlock.Known || bc.BucketBlock.Problem != "the server does not implement GetPublicAccessBlock" {
		t.Errorf("block %+v", bc.BucketBlock)
	}

	// No such bucket: the scan cannot go on.
	f = &awsSettings{answers: map[string]fakeAnswer{"acl": {404, s3Error("NoSuchBucket")}}}
	if _, err := settingsClient(t, f, Options{}).BucketContext(context.Background(), "bkt"); ErrorCode(err) != "NoSuchBucket" {
		t.Errorf("err = %v, want NoSuchBucket", err)
	}
}

// An anonymous request carries no credentials, and its answer is read as
// served or refused.
func TestServedAnonymously(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.Method != http.MethodHead {
			w.WriteHeader(400)
			return
		}
		switch r.URL.Path {
		case "/b/open":
			w.WriteHeader(200)
		case "/b/closed":
			w.WriteHeader(403)
		default:
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	c, err := New(context.Background(), Options{EndpointURL: srv.URL, Credentials: StaticCredentials("AKIDTEST", "secret", ""), MaxAttempts: 2,
		Backoff: retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{"open": true, "closed": false} {
		if got, err := c.ServedAnonymously(context.Background(), "b", key, ""); err != nil || got != want {
			t.Errorf("%s: served %v, %v; want %v", key, got, err, want)
		}
	}
	if _, err := c.ServedAnonymously(context.Background(), "b", "broken", ""); HTTPStatus(err) != 500 {
		t.Errorf("a failing server: %v, want the 500 after retries", err)
	}
	for _, a := range auth {
		if a != "" {
			t.Fatalf("an anonymous request was signed: %q", a)
		}
	}
	if len(auth) != 4 {
		t.Errorf("%d requests, want 4 (the 500 retried once)", len(auth))
	}
}

// GetBucketPolicy as AWS answers it: the document (JSON), 404
// NoSuchBucketPolicy without one, and the account the settings were read
// for, which tells the owner's principals from others'.
func TestBucketPolicyRead(t *testing.T) {
	t.Parallel()
	const doc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}]}`
	for _, tc := range []struct {
		name    string
		answer  fakeAnswer
		known   bool
		value   string
		problem string
	}{
		{"a policy", fakeAnswer{200, doc}, true, doc, ""},
		{"none", fakeAnswer{404, s3Error("NoSuchBucketPolicy")}, true, "", ""},
		{"denied", fakeAnswer{403, s3Error("AccessDenied")}, false, "", "GetBucketPolicy was denied (the identity needs s3:GetBucketPolicy)"},
		{"not implemented", fakeAnswer{501, s3Error("NotImplemented")}, false, "", "the server does not implement GetBucketPolicy"},
		{"empty", fakeAnswer{200, ""}, false, "", "GetBucketPolicy answered with an empty document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &awsSettings{answers: map[string]fakeAnswer{"acl": {200, ownerACL}, "policy": tc.answer, "sts": {200, callerAccount},
				"control": {404, controlError("NoSuchPublicAccessBlockConfiguration")}}}
			bc, err := settingsClient(t, f, Options{}).BucketContext(context.Background(), "bkt")
			if err != nil {
				t.Fatal(err)
			}
			if bc.Policy.Known != tc.known || bc.Policy.Value != tc.value || bc.Policy.Problem != tc.problem {
				t.Errorf("policy %+v; want known %v, %q, problem %q", bc.Policy, tc.known, tc.value, tc.problem)
			}
			// A test server is not AWS: its users stand for accounts, but
			// the account STS named comes first.
			if bc.Bucket != "bkt" || !bc.UsersAreAccounts || bc.Account != "123456789012" {
				t.Errorf("bucket %q, users are accounts %v, account %q", bc.Bucket, bc.UsersAreAccounts, bc.Account)
			}
		})
	}
}

// Access points as S3 Control documents them (ListAccessPoints,
// GetAccessPoint, GetAccessPointPolicy), which radosgw does not
// implement: two access points of the bucket, one limited to a VPC, one
// with a policy and its own Block Public Access.
func TestAccessPointsRead(t *testing.T) {
	t.Parallel()
	const apPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:us-east-1:123456789012:accesspoint/web/object/*"}]}`
	f := &awsSettings{answers: map[string]fakeAnswer{
		"acl": {200, ownerACL}, "sts": {200, callerAccount},
		"control": {404, controlError("NoSuchPublicAccessBlockConfiguration")},
		"accesspoints?bkt": {200, `<ListAccessPointsResult><AccessPointList>` +
			`<AccessPoint><Name>web</Name><NetworkOrigin>Internet</NetworkOrigin><Bucket>bkt</Bucket><AccessPointArn>arn:aws:s3:us-east-1:123456789012:accesspoint/web</AccessPointArn><Alias>web-abc-s3alias</Alias><BucketAccountId>123456789012</BucketAccountId></AccessPoint>` +
			`<AccessPoint><Name>inside</Name><NetworkOrigin>VPC</NetworkOrigin><VpcConfiguration><VpcId>vpc-1a2b3c4d</VpcId></VpcConfiguration><Bucket>bkt</Bucket><AccessPointArn>arn:aws:s3:us-east-1:123456789012:accesspoint/inside</AccessPointArn></AccessPoint>` +
			`</AccessPointList></ListAccessPointsResult>`},
		"accesspoint/web": {200, `<GetAccessPointResult><Name>web</Name><Bucket>bkt</Bucket><NetworkOrigin>Internet</NetworkOrigin>` +
			`<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>false</BlockPublicPolicy><RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration></GetAccessPointResult>`},
		"accesspoint/web/policy":    {200, `<GetAccessPointPolicyResult><Policy>` + xmlEscape(apPolicy) + `</Policy></GetAccessPointPolicyResult>`},
		"accesspoint/inside":        {200, `<GetAccessPointResult><Name>inside</Name><Bucket>bkt</Bucket><NetworkOrigin>VPC</NetworkOrigin><VpcConfiguration><VpcId>vpc-1a2b3c4d</VpcId></VpcConfiguration></GetAccessPointResult>`},
		"accesspoint/inside/policy": {404, controlError("NoSuchAccessPointPolicy")},
	}}
	bc, err := settingsClient(t, f, Options{}).BucketContext(context.Background(), "bkt")
	if err != nil {
		t.Fatal(err)
	}
	if !bc.AccessPoints.Known || len(bc.AccessPoints.Value) != 2 {
		t.Fatalf("access points %+v", bc.AccessPoints)
	}
	web, inside := bc.AccessPoints.Value[0], bc.AccessPoints.Value[1]
	if web.Name != "web" || web.ARN != "arn:aws:s3:us-east-1:123456789012:accesspoint/web" || web.NetworkOrigin != "Internet" ||
		!web.Block.Known || !web.Block.Value.IgnorePublicACLs || !web.Policy.Known || web.Policy.Value != apPolicy {
		t.Errorf("web: %+v", web)
	}
	if inside.NetworkOrigin != "VPC" || inside.VpcID != "vpc-1a2b3c4d" || !inside.Policy.Known || inside.Policy.Value != "" || inside.Block.Value != (acl.PublicAccessBlock{}) {
		t.Errorf("inside: %+v", inside)
	}
	if f.accountHeader != "123456789012" || f.seen["sts"] != 1 {
		t.Errorf("account %q, STS asked %d times: want the caller's account, asked once for all of S3 Control", f.accountHeader, f.seen["sts"])
	}

	// Denied: said, the rest of the context read.
	f = &awsSettings{answers: map[string]fakeAnswer{"acl": {200, ownerACL}, "sts": {200, callerAccount},
		"accesspoints?bkt": {403, controlError("AccessDenied")}}}
	bc, err = settingsClient(t, f, Options{}).BucketContext(context.Background(), "bkt")
	if err != nil || bc.AccessPoints.Known || bc.AccessPoints.Problem != "S3 Control ListAccessPoints was denied (the identity needs s3:ListAccessPoints)" {
		t.Errorf("denied listing: %+v, %v", bc.AccessPoints, err)
	}
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
