package s3access

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// ListBuckets as AWS answers it (radosgw gives no BucketRegion and no
// continuation): two pages, regions from BucketRegion where given and
// from HeadBucket's x-amz-bucket-region otherwise, also on a 403 or 301.
func TestListBucketsWithRegions(t *testing.T) {
	t.Parallel()
	heads := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			heads[r.URL.Path]++
			switch r.URL.Path {
			case "/old-eu":
				w.Header().Set("X-Amz-Bucket-Region", "eu-west-1")
				w.WriteHeader(301)
			case "/locked":
				w.Header().Set("X-Amz-Bucket-Region", "ap-south-1")
				w.WriteHeader(403)
			default:
				w.WriteHeader(200)
			}
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		page := `<ListAllMyBucketsResult><Owner><ID>o</ID></Owner><Buckets>%s</Buckets>%s</ListAllMyBucketsResult>`
		if r.URL.Query().Get("continuation-token") == "" {
			fmt.Fprintf(w, page, `<Bucket><Name>a-use1</Name><BucketRegion>us-east-1</BucketRegion></Bucket><Bucket><Name>old-eu</Name></Bucket>`,
				`<ContinuationToken>next</ContinuationToken>`)
			return
		}
		fmt.Fprintf(w, page, `<Bucket><Name>locked</Name></Bucket><Bucket><Name>z-usw2</Name><BucketRegion>us-west-2</BucketRegion></Bucket>`, "")
	}))
	defer srv.Close()
	c, err := New(context.Background(), Options{EndpointURL: srv.URL, Credentials: StaticCredentials("AKIDTEST", "secret", ""), MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.ListBuckets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []Bucket{{"a-use1", "us-east-1"}, {"old-eu", "eu-west-1"}, {"locked", "ap-south-1"}, {"z-usw2", "us-west-2"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("buckets %v, want %v", got, want)
	}
	if len(heads) != 2 || heads["/a-use1"]+heads["/z-usw2"] != 0 {
		t.Errorf("HeadBucket sent for %v; want only the buckets ListBuckets gave no region", heads)
	}
}

// A bucket name S3 would never give (a hostile or broken endpoint's) is
// refused: names become request paths and file names.
func TestListBucketsRefusesNamesS3NeverGives(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"../../etc", "a/b", "x\x01y", ".hidden"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			var b strings.Builder
			_ = xml.EscapeText(&b, []byte(name))
			fmt.Fprintf(w, `<ListAllMyBucketsResult><Owner><ID>o</ID></Owner><Buckets><Bucket><Name>%s</Name><BucketRegion>us-east-1</BucketRegion></Bucket></Buckets></ListAllMyBucketsResult>`, b.String())
		}))
		c, err := New(context.Background(), Options{EndpointURL: srv.URL, Credentials: StaticCredentials("AKIDTEST", "secret", ""), MaxAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.ListBuckets(context.Background()); err == nil || !strings.Contains(err.Error(), "not an S3 bucket name") || len(got) != 0 {
			t.Errorf("%q: buckets %v, err %v; want refused", name, got, err)
		}
		srv.Close()
	}
}
