package wire

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// leanRequestFor builds a request as sendOnce does.
func leanRequestFor(t testing.TB, base, key, rawQuery string, extra http.Header) *http.Request {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		u.Path = u.Path + "/" + key
		u.RawPath = u.Path[:len(u.Path)-len(key)] + Escape(key, true)
	}
	u.RawQuery = rawQuery
	req, _ := http.NewRequest(http.MethodGet, "", nil)
	req.URL, req.Host = u, u.Host
	for k, v := range extra {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "aclscan/test")
	req.Header.Set("X-Amz-Content-Sha256", EmptyPayloadSHA256)
	return req
}

// The lean signer gives the SDK's v4.Signer's Authorization, X-Amz-Date,
// X-Amz-Security-Token and query, byte for byte, over keys with every
// kind of character, versions, session tokens, endpoints with and without
// default ports, extra headers.
func TestLeanSignerMatchesSDK(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("abcXYZ019 +%&=?#/~._-!*'()[]{}:;,@$^|\\\"<>`é漢\x01")
	randomKey := func() string {
		n := 1 + rng.IntN(40)
		r := make([]rune, n)
		for i := range r {
			r[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(r)
	}
	bases := []string{"https://bucket.s3.us-east-1.amazonaws.com", "http://127.0.0.1:7480/bucket", "https://s3.eu-west-1.amazonaws.com:443/my.bucket", "http://localhost:80/b", "https://[::1]:8443/b"}
	queries := []string{"acl", "", "list-type=2&max-keys=1000&prefix=a%2Fb", "acl&versionId=3HL4kqtJlcpXroDTDmJ%2B", "versions&key-marker=a+b&version-id-marker=null"}
	extras := []http.Header{nil, {"X-Amz-Expected-Bucket-Owner": {"123456789012"}}, {"Accept-Encoding": {"identity"}, "X-Amz-Request-Payer": {" requester  now "}}}
	sdk := v4.NewSigner()
	lean := &Signer{}
	for i := range 2000 {
		// A key id has one secret: the SDK caches derived keys by key id.
		creds := aws.Credentials{AccessKeyID: fmt.Sprintf("AKID%d", i%3), SecretAccessKey: fmt.Sprintf("secret-%d", i%3)}
		if i%2 == 0 {
			creds.SessionToken = "token/with+chars=="
		}
		base, query, extra, key := bases[i%len(bases)], queries[i%len(queries)], extras[i%len(extras)], randomKey()
		region := []string{"us-east-1", "eu-west-1"}[i%2]
		now := time.Date(2026, 12, 2, 23, 59, 58+i%3, 0, time.UTC) // crosses midnight
		want := leanRequestFor(t, base, key, query, extra)
		if err := sdk.SignHTTP(context.Background(), creds, want, EmptyPayloadSHA256, "s3", region, now, func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }); err != nil {
			t.Fatal(err)
		}
		got := leanRequestFor(t, base, key, query, extra)
		lean.Sign(got, creds, EmptyPayloadSHA256, "s3", region, now)
		for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"} {
			if g, w := got.Header.Get(h), want.Header.Get(h); g != w {
				t.Fatalf("request %d (%s, key %q, query %q): %s\n got %q\nwant %q", i, base, key, query, h, g, w)
			}
		}
		if got.URL.RawQuery != want.URL.RawQuery || got.Host != want.Host || got.URL.String() != want.URL.String() {
			t.Fatalf("request %d: URL %s host %s, SDK %s host %s", i, got.URL, got.Host, want.URL, want.Host)
		}
	}
}

// BenchmarkSign: the SDK's signer against the lean one, on a GetObjectAcl
// request (go test -bench Sign -benchmem ./s3access/).
func BenchmarkSign(b *testing.B) {
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}
	now := time.Now()
	b.Run("request-only", func(b *testing.B) { // what both include
		b.ReportAllocs()
		for b.Loop() {
			_ = leanRequestFor(b, "http://127.0.0.1:7480/bucket", "p001/obj-0000001", "acl", nil)
		}
	})
	b.Run("sdk", func(b *testing.B) {
		sdk := v4.NewSigner()
		b.ReportAllocs()
		for b.Loop() {
			req := leanRequestFor(b, "http://127.0.0.1:7480/bucket", "p001/obj-0000001", "acl", nil)
			_ = sdk.SignHTTP(context.Background(), creds, req, EmptyPayloadSHA256, "s3", "us-east-1", now, func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		}
	})
	b.Run("lean", func(b *testing.B) {
		lean := &Signer{}
		b.ReportAllocs()
		for b.Loop() {
			req := leanRequestFor(b, "http://127.0.0.1:7480/bucket", "p001/obj-0000001", "acl", nil)
			lean.Sign(req, creds, EmptyPayloadSHA256, "s3", "us-east-1", now)
		}
	})
}
