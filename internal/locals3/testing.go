package locals3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
)

// ForTest starts (or reuses) the local S3 for an integration test and
// points the standard AWS variables at it as user A, so clients built from
// the default chain (aclscan's) talk to it.
func ForTest(t testing.TB) Env {
	t.Helper()
	env, err := Start(context.Background())
	if err != nil {
		t.Fatalf("local S3 unavailable: %v", err)
	}
	UseUser(t, env, env.A)
	t.Setenv("AWS_ENDPOINT_URL_S3", env.HTTPURL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CA_BUNDLE", "")
	return env
}

// UseUser sets the standard credential variables to u's keys.
func UseUser(t testing.TB, env Env, u User) {
	t.Setenv("AWS_ACCESS_KEY_ID", u.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", u.SecretKey)
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
