package s3access

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aclscan/aclscan/acl"
)

// awsSample reads one of AWS's own published artifacts (testdata/aws, whose
// README names each one's source).
func awsSample(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"..", "testdata", "aws"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// AWS's sample ACL answers, served as the samples show them (Content-Type
// text/plain, no XML declaration, no namespace) through the requests
// production sends: GetObjectAcl on the lean path and through the SDK,
// GetBucketAcl as the bucket context reads it. An httptest server plays
// S3: radosgw does not answer with these bytes.
func TestAWSSampleACLAnswers(t *testing.T) {
	t.Parallel()
	const owner = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"
	want := acl.Policy{Owner: owner, Grants: []acl.Grant{{Type: acl.TypeCanonicalUser, ID: owner, Permission: "FULL_CONTROL"}}}
	reads := map[string]func(c *Client) (acl.Policy, error){
		"GetObjectAcl lean": func(c *Client) (acl.Policy, error) {
			return c.GetObjectACL(context.Background(), "bucket", "my-image.jpg", "")
		},
		"GetBucketAcl": func(c *Client) (acl.Policy, error) { return c.bucketACL(context.Background(), "bucket") },
	}
	for _, tc := range []struct {
		file string // under testdata/aws/s3
		read string
		sdk  bool
	}{
		// The grantee's type as a <Type> element, no xsi:type attribute.
		{"get-object-acl.xml", "GetObjectAcl lean", false},
		{"get-object-acl.xml", "GetObjectAcl lean", true},
		// xsi:type on a second line, after tabs.
		{"get-bucket-acl.xml", "GetBucketAcl", false},
		{"get-bucket-acl.xml", "GetObjectAcl lean", false},
	} {
		t.Run(tc.file+"/"+tc.read, func(t *testing.T) {
			t.Parallel()
			body := awsSample(t, "s3", tc.file)
			c, _ := testClient(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				_, _ = w.Write(body)
			})
			c.sdkObjectACL = tc.sdk
			got, err := reads[tc.read](c)
			if err != nil {
				t.Fatal(err)
			}
			if got.Owner != want.Owner || len(got.Grants) != 1 || got.Grants[0] != want.Grants[0] {
				t.Errorf("read %+v, want %+v", got, want)
			}
			// The owner's own grant: nothing to report.
			if f := acl.Classify(owner, got.Owner, got.Grants); f != 0 {
				t.Errorf("the owner's FULL_CONTROL judged %v", f.Names())
			}
		})
	}
}

// AWS's sample error body, with the status its error table gives, read as
// GetObjectAcl reads it on the lean path and through the SDK.
func TestAWSSampleErrorAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file     string
		status   int
		classify func(error) bool
		code     string
	}{
		{"error-no-such-key.xml", http.StatusNotFound, IsNotFound, "NoSuchKey"},
	} {
		for _, sdk := range []bool{false, true} {
			body := awsSample(t, "s3", tc.file)
			c, _ := testClient(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(tc.status)
				_, _ = w.Write(body)
			})
			c.sdkObjectACL = sdk
			_, err := c.GetObjectACL(context.Background(), "mybucket", "myfoto.jpg", "")
			if err == nil || !tc.classify(err) || !strings.Contains(err.Error(), tc.code) {
				t.Errorf("%s (SDK %v): err %v, want %s recognised", tc.file, sdk, err, tc.code)
			}
		}
	}
}

// AWS's sample bucket settings (values in capitals, with and without the
// S3 namespace), read as a scan reads a bucket's context.
func TestAWSSampleBucketSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ownershipFile string
		wantOwnership string
	}{
		{"get-bucket-ownership-controls-enforced.xml", acl.OwnerEnforced},
		{"get-bucket-ownership-controls-preferred.xml", "BucketOwnerPreferred"},
	} {
		f := &awsSettings{answers: map[string]fakeAnswer{
			"acl":               {200, string(awsSample(t, "s3", "get-bucket-acl.xml"))},
			"ownershipControls": {200, string(awsSample(t, "s3", tc.ownershipFile))},
			"publicAccessBlock": {200, string(awsSample(t, "s3", "get-public-access-block.xml"))},
			"policyStatus":      {200, string(awsSample(t, "s3", "get-bucket-policy-status.xml"))},
			"sts":               {200, callerAccount},
			"control":           {404, controlError("NoSuchPublicAccessBlockConfiguration")},
		}}
		c := settingsClient(t, f, Options{})
		bc, err := c.BucketContext(context.Background(), "amzn-s3-demo-bucket")
		if err != nil {
			t.Fatal(err)
		}
		if !bc.Ownership.Known || bc.Ownership.Value != tc.wantOwnership {
			t.Errorf("%s: ownership %+v, want %s", tc.ownershipFile, bc.Ownership, tc.wantOwnership)
		}
		want := acl.PublicAccessBlock{BlockPublicACLs: true}
		if !bc.BucketBlock.Known || bc.BucketBlock.Value != want {
			t.Errorf("Block Public Access %+v, want only BlockPublicAcls (TRUE)", bc.BucketBlock)
		}
		if !bc.PolicyPublic.Known || !bc.PolicyPublic.Value {
			t.Errorf("policy status %+v, want known public (TRUE)", bc.PolicyPublic)
		}
		if bc.Owner != "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a" {
			t.Errorf("bucket owner %q", bc.Owner)
		}
	}
}
