package watch

import (
	"context"
	"testing"

	"github.com/aclscan/aclscan/internal/testkit/fakes3"
	"github.com/aclscan/aclscan/scan"
)

func TestDecodeSettingChange(t *testing.T) {
	trail := func(source, name, bucket, errorCode string) string {
		return `{"version":"0","id":"1","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":{"eventSource":"` + source +
			`","eventName":"` + name + `","errorCode":"` + errorCode + `","requestParameters":{"bucketName":"` + bucket + `"}}}`
	}
	for _, tc := range []struct {
		name, body     string
		ok, decides    bool
		bucket, action string
	}{
		// CloudTrail's name for a bucket's PutPublicAccessBlock.
		{"bucket block public access off", trail("s3.amazonaws.com", "DeleteBucketPublicAccessBlock", "b", ""), true, true, "b", "DeleteBucketPublicAccessBlock"},
		{"policy put", trail("s3.amazonaws.com", "PutBucketPolicy", "b", ""), true, true, "b", "PutBucketPolicy"},
		{"account level", trail("s3.amazonaws.com", "PutAccountPublicAccessBlock", "", ""), true, true, "", "PutAccountPublicAccessBlock"},
		{"failed call changes nothing", trail("s3.amazonaws.com", "PutBucketPolicy", "b", "AccessDenied"), true, false, "b", "PutBucketPolicy"},
		{"other setting", trail("s3.amazonaws.com", "PutBucketTagging", "b", ""), true, false, "b", "PutBucketTagging"},
		{"other service", trail("iam.amazonaws.com", "PutBucketPolicy", "b", ""), true, false, "b", "PutBucketPolicy"},
		{"object event", `{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"b"},"object":{"key":"k"}}}`, false, false, "", ""},
		{"notification records", `{"Records":[]}`, false, false, "", ""},
		{"not JSON", `{`, false, false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := DecodeSettingChange([]byte(tc.body))
			if ok != tc.ok || c.DecidesAccess() != tc.decides || c.Bucket != tc.bucket || c.EventName != tc.action {
				t.Errorf("got %+v ok=%v decides=%v; want ok=%v decides=%v bucket %q event %q", c, ok, c.DecidesAccess(), tc.ok, tc.decides, tc.bucket, tc.action)
			}
		})
	}
}

// A settings change drops the bucket's cached context: the next event is
// judged with the settings read again (here, the bucket's ACL); a change
// that decides nothing (a failed call, another setting) keeps it.
func TestWatcherSettingChanged(t *testing.T) {
	t.Parallel()
	fake := fakes3.New()
	fake.BucketACL = fakes3.Answer{Status: 200, Body: privateACL}
	fake.Put("k", 200, privateACL)
	client := fakeClient(t, fake)
	w := &Watcher{API: client}
	sink := scan.SinkFunc(func(*scan.Result) error { return nil })
	judge := func() {
		t.Helper()
		if _, err := w.Judge(context.Background(), []Event{{Bucket: "b", Key: "k", Name: "ObjectCreated:Put"}}, sink); err != nil {
			t.Fatal(err)
		}
	}
	judge()
	judge()
	if n := fake.Count("bucket-acl"); n != 1 {
		t.Fatalf("%d bucket ACL reads for two events, want 1 (cached)", n)
	}
	if w.SettingChanged(SettingChange{EventSource: "s3.amazonaws.com", EventName: "PutBucketTagging", Bucket: "b"}) ||
		w.SettingChanged(SettingChange{EventSource: "s3.amazonaws.com", EventName: "PutBucketPolicy", Bucket: "b", ErrorCode: "AccessDenied"}) {
		t.Error("a change that decides nothing asks for a scan")
	}
	judge()
	if n := fake.Count("bucket-acl"); n != 1 {
		t.Fatalf("%d bucket ACL reads after changes that decide nothing, want 1", n)
	}
	if !w.SettingChanged(SettingChange{EventSource: "s3.amazonaws.com", EventName: "PutBucketAcl", Bucket: "b"}) {
		t.Error("PutBucketAcl asks for no scan")
	}
	judge()
	if n := fake.Count("bucket-acl"); n != 2 {
		t.Errorf("%d bucket ACL reads after PutBucketAcl, want 2 (read again)", n)
	}
}
