package watch

import "testing"

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
