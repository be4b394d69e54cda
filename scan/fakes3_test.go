package scan

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aclscan/aclscan/internal/testkit/fakes3"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// fakeS3 is the shared in-process S3 (internal/testkit/fakes3) with how this
// package's tests build their client to it.
type fakeS3 struct {
	*fakes3.Server
	// sdkACL makes the client fetch ACLs through the SDK's stack rather
	// than the lean path.
	sdkACL bool
	// attempts is the client's MaxAttempts (default 2).
	attempts int
}

func newFakeS3() *fakeS3 {
	f := &fakeS3{Server: fakes3.New()}
	f.BucketACL = fakes3.Answer{} // an empty 200: unreadable, as these tests expect
	return f
}

// client starts an httptest server for f and returns an aclscan client to it.
func (f *fakeS3) client(t *testing.T) *s3access.Client {
	t.Helper()
	attempts := f.attempts
	if attempts == 0 {
		attempts = 2
	}
	c, err := s3access.New(context.Background(), s3access.Options{
		EndpointURL: f.URL(t), MaxAttempts: attempts, SDKObjectACL: f.sdkACL,
		Credentials: s3access.StaticCredentials("AKIDTESTFAKE", "fake-secret", ""),
		Backoff:     noBackoff, // retries are tested for what they do, not for how long they wait
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// noBackoff retries at once.
var noBackoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })

// collect is a Sink that keeps every result, by key.
type collect struct {
	byKey map[string]Result
	order []string
}

func (c *collect) Write(r *Result) error {
	if c.byKey == nil {
		c.byKey = map[string]Result{}
	}
	if _, dup := c.byKey[r.Key+"\x00"+r.VersionID]; dup {
		return fmt.Errorf("key %q written twice", r.Key)
	}
	c.byKey[r.Key+"\x00"+r.VersionID] = *r
	c.order = append(c.order, r.Key)
	return nil
}
