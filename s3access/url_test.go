package s3access

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		in, bucket, prefix, errHas string
	}{
		{"s3://my-bucket", "my-bucket", "", ""},
		{"s3://my-bucket/", "my-bucket", "", ""},
		{"s3://my.bucket/logs/2024/", "my.bucket", "logs/2024/", ""},
		{"s3://bucket/a b+c%d", "bucket", "a b+c%d", ""},
		{"s3://Legacy_Bucket/x", "Legacy_Bucket", "x", ""},
		{"my-bucket", "", "", "not an s3:// URL"},
		{"https://my-bucket.s3.amazonaws.com/x", "", "", "not an s3:// URL"},
		{"s3://", "", "", "no bucket name"},
		{"s3:///prefix", "", "", "no bucket name"},
		{"s3://ab", "", "", "shorter than 3"},
		{"s3://my bucket", "", "", "not allowed"},
		{"s3://-bucket", "", "", "begin and end"},
		{"s3://bucket-", "", "", "begin and end"},
		{"s3://a..b", "", "", "adjacent periods"},
		{"s3://" + strings.Repeat("a", 256), "", "", "longer than 255"},
		{"s3://bucket/\xff\xfe", "", "", "not valid UTF-8"},
		{"s3://bucket/" + strings.Repeat("k", 1025), "", "", "at most 1024"},
		{"s3://bucket/" + strings.Repeat("k", 1024), "bucket", strings.Repeat("k", 1024), ""},
		{"s3://bucket/../etc//passwd", "bucket", "../etc//passwd", ""},
	}
	for _, tc := range cases {
		bucket, prefix, err := ParseURL(tc.in)
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) || !isUsageError(err) {
				t.Errorf("ParseURL(%q) err = %v, want a usage error containing %q", tc.in, err, tc.errHas)
			}
			continue
		}
		if err != nil || bucket != tc.bucket || prefix != tc.prefix {
			t.Errorf("ParseURL(%q) = %q, %q, %v; want %q, %q", tc.in, bucket, prefix, err, tc.bucket, tc.prefix)
		}
	}
}

func TestResolveEndpoint(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", "http://general:1")
	if got, _ := resolveEndpoint(""); got != "http://general:1" {
		t.Errorf("AWS_ENDPOINT_URL not used: %q", got)
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://s3-specific:2/")
	if got, _ := resolveEndpoint(""); got != "http://s3-specific:2" {
		t.Errorf("AWS_ENDPOINT_URL_S3 not preferred: %q", got)
	}
	if got, _ := resolveEndpoint("https://flag:3"); got != "https://flag:3" {
		t.Errorf("flag not preferred: %q", got)
	}
	for _, bad := range []string{"localhost:7480", "ftp://x", "http://"} {
		if _, err := resolveEndpoint(bad); err == nil || !isUsageError(err) {
			t.Errorf("resolveEndpoint(%q) err = %v, want a usage error", bad, err)
		}
	}
}

func TestNeedsPathStyle(t *testing.T) {
	for endpoint, want := range map[string]bool{
		"":                                   false,
		"http://127.0.0.1:7480":              true,
		"http://[::1]:7480":                  true,
		"http://localhost:9000":              true,
		"https://s3.eu-west-1.amazonaws.com": false,
		"https://minio.internal":             false,
	} {
		if got := needsPathStyle(endpoint); got != want {
			t.Errorf("needsPathStyle(%q) = %v, want %v", endpoint, got, want)
		}
	}
}

// FuzzParseURL: any input gives either a bucket and prefix that rebuild
// the URL, or a one-line usage error; never a panic.
func FuzzParseURL(f *testing.F) {
	for _, seed := range []string{"s3://my-bucket/logs/", "s3://", "my-bucket", "s3://a..b", "s3://b/\x00\n", "s3://bucket/\xff", "S3://BUCKET"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		bucket, prefix, err := ParseURL(raw)
		if err != nil {
			if !isUsageError(err) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q for %q: want a one-line usage error", err, raw)
			}
			return
		}
		rebuilt := "s3://" + bucket
		if prefix != "" || strings.HasPrefix(raw, rebuilt+"/") {
			rebuilt += "/" + prefix
		}
		if rebuilt != raw || ValidateBucketName(bucket) != nil || !utf8.ValidString(prefix) {
			t.Fatalf("%q parsed as bucket %q prefix %q", raw, bucket, prefix)
		}
	})
}

func isUsageError(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}
