package locals3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// ForTest starts (or reuses) the local S3 for an integration test. It
// does not touch the process environment: tests give clients the
// endpoint and a user's Credentials, and may run in parallel.
func ForTest(t testing.TB) Env {
	t.Helper()
	env, err := Start(context.Background())
	if err != nil {
		t.Fatalf("local S3 unavailable: %v", err)
	}
	return env
}

// Credentials signs requests as u.
func (u User) Credentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(u.AccessKey, u.SecretKey, "")
}

// Isolate keeps a test binary away from the developer's AWS settings
// (profiles, endpoints, keys, CA bundles): a client built from the
// default chain sees none. Call it from TestMain, before any test runs;
// tests that exercise the chain set what they need with t.Setenv.
func Isolate() {
	for _, name := range []string{
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_CA_BUNDLE", "AWS_DEFAULT_REGION",
	} {
		os.Unsetenv(name)
	}
	os.Setenv("AWS_CONFIG_FILE", os.DevNull)
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	os.Setenv("AWS_REGION", "us-east-1")
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// NewBucket creates a bucket with a unique name for one test, owned by A.
func NewBucket(t testing.TB, env Env, hint string) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "it-" + strings.ToLower(hint) + "-" + hex.EncodeToString(b[:])
	if err := CreateBucket(context.Background(), env.Client(env.A), name); err != nil {
		t.Fatal(err)
	}
	return name
}

// NewVersionedBucket is NewBucket with versioning enabled.
func NewVersionedBucket(t testing.TB, env Env, hint string) string {
	t.Helper()
	name := NewBucket(t, env, hint)
	if err := EnableVersioning(context.Background(), env.Client(env.A), name); err != nil {
		t.Fatal(err)
	}
	return name
}
