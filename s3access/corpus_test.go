package s3access

import (
	"cmp"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
		// 503 is the status S3 gives SlowDown; the throttle control reacts to it.
		{"error-slow-down.xml", http.StatusServiceUnavailable, IsThrottle, "SlowDown"},
	} {
		for _, sdk := range []bool{false, true} {
			body := awsSample(t, "s3", tc.file)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(tc.status)
				_, _ = w.Write(body)
			}))
			defer srv.Close()
			// One attempt, no throttle control: what is read, not how long retries wait.
			c := poolClient(t, srv.URL, Options{MaxAttempts: 1, Throttling: ThrottleOff})
			c.sdkObjectACL = sdk
			_, err := c.GetObjectACL(context.Background(), "mybucket", "myfoto.jpg", "")
			if err == nil || !tc.classify(err) || !strings.Contains(err.Error(), tc.code) {
				t.Errorf("%s (SDK %v): err %v, want %s recognised", tc.file, sdk, err, tc.code)
			}
		}
	}
}

// AWS's SDKs' captured answers that name the bucket's Region, served with
// the status and headers the SDK tests give them: the lean path re-signs
// for that Region and the object is read, the first time and after.
// botocore's stubs carry x-amz-bucket-region; the case without it checks
// that the body's <Region> is enough.
func TestAWSSampleRegionAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file string
		status     int
		header     bool
	}{
		{"PermanentRedirect", "error-permanent-redirect.xml", http.StatusMovedPermanently, true},
		{"AuthorizationHeaderMalformed", "error-authorization-header-malformed.xml", http.StatusBadRequest, true},
		{"AuthorizationHeaderMalformed, body only", "error-authorization-header-malformed.xml", http.StatusBadRequest, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := awsSample(t, "s3", tc.file)
			var requests atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				if !strings.Contains(r.Header.Get("Authorization"), "/eu-central-1/s3/aws4_request") {
					if tc.header {
						w.Header().Set("X-Amz-Bucket-Region", "eu-central-1")
					}
					w.WriteHeader(tc.status)
					_, _ = w.Write(body)
					return
				}
				_, _ = w.Write(awsSample(t, "s3", "get-object-acl.xml"))
			}))
			defer srv.Close()
			c := poolClient(t, srv.URL, Options{Region: "us-west-2", MaxAttempts: 1})
			for _, key := range []string{"my-image.jpg", "my-second-image.jpg"} {
				if _, err := c.GetObjectACL(context.Background(), "foo", key, ""); err != nil {
					t.Fatalf("%s: %v", key, err)
				}
			}
			if requests.Load() != 3 {
				t.Errorf("%d requests; want 3: one refused, then each signed for eu-central-1", requests.Load())
			}
		})
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

// AWS's sample listings, read page by page as a scan lists a bucket:
// ListObjectsV2's two pages joined by a continuation token (sent back as
// given, with its '/' and '='), ListObjectVersions with delete markers
// (one page's namespace lacks its final '/') and a truncated page whose
// markers continue the listing. The samples leave EncodingType out, so
// their keys are taken as they are.
func TestAWSSampleListings(t *testing.T) {
	t.Parallel()
	const owner = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"
	serve := func(t *testing.T, pick func(q url.Values) string) (*Client, *[]url.Values) {
		var queries []url.Values
		var mu sync.Mutex
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			queries = append(queries, r.URL.Query())
			mu.Unlock()
			w.Header().Set("Content-Type", "application/xml")
			_, _ = w.Write(awsSample(t, "s3", pick(r.URL.Query())))
		}))
		t.Cleanup(srv.Close)
		return poolClient(t, srv.URL, Options{MaxAttempts: 1}), &queries
	}

	t.Run("ListObjectsV2 pages", func(t *testing.T) {
		t.Parallel()
		c, queries := serve(t, func(q url.Values) string {
			if q.Has("continuation-token") {
				return "list-objects-v2-page-2.xml"
			}
			return "list-objects-v2-page-1.xml"
		})
		var keys []string
		req := &ListRequest{Bucket: "bucket"}
		for range 3 {
			page, err := c.ListPage(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Entries {
				keys = append(keys, e.Key)
			}
			if !page.Truncated {
				break
			}
			req.Next = page.Next
		}
		if !slices.Equal(keys, []string{"happyface.jpg", "happyfacex.jpg"}) {
			t.Errorf("keys %q", keys)
		}
		if len(*queries) != 2 || (*queries)[1].Get("continuation-token") != "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=" {
			t.Errorf("requests %v; want a second one with the page's token", *queries)
		}
	})

	t.Run("ListObjectVersions with delete markers", func(t *testing.T) {
		t.Parallel()
		c, _ := serve(t, func(url.Values) string { return "list-object-versions.xml" })
		page, err := c.ListPage(context.Background(), &ListRequest{Bucket: "bucket", Versions: true})
		if err != nil {
			t.Fatal(err)
		}
		want := []ListEntry{
			{Key: "my-image.jpg", VersionID: "3/L4kqtJl40Nr8X8gdRQBpUMLUo", OwnerID: owner, IsLatest: true},
			{Key: "my-second-image.jpg", VersionID: "03jpff543dhffds434rfdsFDN943fdsFkdmqnh892", OwnerID: owner, IsLatest: true, DeleteMarker: true},
			{Key: "my-second-image.jpg", VersionID: "QUpfdndhfd8438MNFDN93jdnJFkdmqnh893", OwnerID: owner},
			{Key: "my-third-image.jpg", VersionID: "03jpff543dhffds434rfdsFDN943fdsFkdmqnh892", OwnerID: owner, IsLatest: true, DeleteMarker: true},
			{Key: "my-third-image.jpg", VersionID: "UIORUnfndfhnw89493jJFJ", OwnerID: owner},
		}
		// Within a key the order is not kept (checkpoints resume after whole keys).
		byVersion := func(a, b ListEntry) int {
			return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.VersionID, b.VersionID))
		}
		slices.SortFunc(want, byVersion)
		slices.SortFunc(page.Entries, byVersion)
		if page.Truncated || !slices.Equal(page.Entries, want) {
			t.Errorf("page %+v\nwant %+v", page, want)
		}
	})

	t.Run("ListObjectVersions truncated", func(t *testing.T) {
		t.Parallel()
		c, queries := serve(t, func(url.Values) string { return "list-object-versions-truncated.xml" })
		req := &ListRequest{Bucket: "mtp-versioning-fresh", Versions: true}
		page, err := c.ListPage(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if !page.Truncated || page.Next != (PageMarker{Key: "key3", VersionID: "d-d309mfjFrUmoQ0DBsVqmcMV15OI."}) || len(page.Entries) != 2 {
			t.Fatalf("page %+v; want 2 versions of key3 and the page's markers", page)
		}
		req.Next = page.Next
		if _, err := c.ListPage(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if q := (*queries)[1]; q.Get("key-marker") != "key3" || q.Get("version-id-marker") != "d-d309mfjFrUmoQ0DBsVqmcMV15OI." {
			t.Errorf("second request %v; want the page's markers", q)
		}
	})
}
