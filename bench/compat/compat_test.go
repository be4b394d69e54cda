//go:build compat

// Package compat runs aclscan against S3 servers other than radosgw
// (scripts/compat builds, caches and starts them; make test-compat). The
// server comes from the environment: COMPAT_SERVER (its name, which
// selects what it is known to support), COMPAT_ENDPOINT,
// COMPAT_ACCESS_KEY, COMPAT_SECRET_KEY.
package compat

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aclscan/aclscan/internal/testkit"
	"github.com/aclscan/aclscan/report"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// server is the S3 server under test, from the environment. The admin
// keys (COMPAT_ADMIN_ACCESS_KEY, COMPAT_ADMIN_SECRET_KEY), when given,
// create buckets and set bucket settings: SeaweedFS needs an Admin
// identity for that, and its Admin identities bypass ACLs, so the scans
// run as the other one.
type server struct{ name, endpoint, accessKey, secretKey, adminKey, adminSecret string }

func serverFromEnv(t *testing.T) server {
	s := server{os.Getenv("COMPAT_SERVER"), os.Getenv("COMPAT_ENDPOINT"), os.Getenv("COMPAT_ACCESS_KEY"), os.Getenv("COMPAT_SECRET_KEY"),
		os.Getenv("COMPAT_ADMIN_ACCESS_KEY"), os.Getenv("COMPAT_ADMIN_SECRET_KEY")}
	if s.name == "" || s.endpoint == "" || s.accessKey == "" {
		t.Skip("no compatibility server: run make test-compat (scripts/compat)")
	}
	return s
}

func (s server) client() *s3.Client { return s.clientAs(s.accessKey, s.secretKey) }

// admin is the client for bucket-level set-up.
func (s server) admin() *s3.Client {
	if s.adminKey == "" {
		return s.client()
	}
	return s.clientAs(s.adminKey, s.adminSecret)
}

func (s server) clientAs(accessKey, secretKey string) *s3.Client {
	return s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
	})
}

// seed creates a bucket of n private objects and returns its name and keys.
func (s server) seed(t *testing.T, n int) (string, []string) {
	t.Helper()
	ctx := context.Background()
	c := s.client()
	var b [4]byte
	_, _ = rand.Read(b[:])
	bucket := "compat-" + hex.EncodeToString(b[:])
	if _, err := s.admin().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("create bucket on %s: %v", s.name, err)
	}
	keys := make([]string, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range keys {
		keys[i] = fmt.Sprintf("k/%05d", i)
		g.Go(func() error {
			_, err := c.PutObject(gctx, &s3.PutObjectInput{Bucket: &bucket, Key: &keys[i], Body: strings.NewReader("x")})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("seed %s: %v", s.name, err)
	}
	return bucket, keys
}

// scan runs the command line against the server and returns its exit
// code, stderr, the report's records and how long it took.
func (s server) scan(t *testing.T, args ...string) (int, string, []report.Record, time.Duration) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.jsonl")
	cmd := exec.Command(aclscanBin, append(append([]string{"scan"}, args...), "--format", "jsonl", "-o", path)...)
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_S3="+s.endpoint, "AWS_ACCESS_KEY_ID="+s.accessKey,
		"AWS_SECRET_ACCESS_KEY="+s.secretKey, "AWS_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	recs, err := testkit.ReadReport(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return code, stderr.String(), recs, took
}

var aclscanBin string

func TestMain(m *testing.M) {
	os.Exit(testkit.RunTests(m, false, &aclscanBin))
}

// Servers that implement GetObjectAcl report every key exactly once.
// versitygw (1.8) reports Object Ownership BucketOwnerEnforced for every
// bucket: the scan fetches nothing and says why, not "0 objects". Asked
// to fetch anyway (--scan-disabled-acls), it meets versitygw's 501 for
// GetObjectAcl and stops at once with one line saying so, whatever the
// bucket's size: no 30 s wait for an "outage", no object reported as an
// error.
func TestScanEveryKeyOrSayWhyNot(t *testing.T) {
	s := serverFromEnv(t)
	for _, n := range []int{5, 300} {
		t.Run(fmt.Sprintf("%d objects", n), func(t *testing.T) {
			bucket, keys := s.seed(t, n)
			summary := filepath.Join(t.TempDir(), "summary.json")
			code, stderr, recs, took := s.scan(t, "s3://"+bucket, "--summary-json", summary)
			t.Logf("%s, %d objects: exit %d in %v, %d records; stderr %q", s.name, n, code, took.Round(time.Millisecond), len(recs), strings.TrimSpace(stderr))
			if s.name == "versitygw" {
				// The summary (stderr's when it is a terminal) says why.
				sum, _ := os.ReadFile(summary)
				if code != 0 || len(recs) != 0 || !strings.Contains(string(sum), `"not_scanned": true`) || !strings.Contains(string(sum), "ACLs are disabled") {
					t.Errorf("exit %d, %d records, summary %s; want exit 0, nothing fetched, and why (ACLs disabled)", code, len(recs), sum)
				}
				code, stderr, recs, took = s.scan(t, "s3://"+bucket, "--scan-disabled-acls")
				if code != 1 || !strings.Contains(stderr, "does not implement GetObjectAcl") || len(recs) != 0 || took > 5*time.Second {
					t.Errorf("--scan-disabled-acls: exit %d in %v, %d records, stderr %q; want exit 1 within 5 s, nothing reported, one line naming GetObjectAcl", code, took, len(recs), stderr)
				}
				return
			}
			seen := map[string]int{}
			for _, r := range recs {
				seen[r.Key]++
			}
			for _, k := range keys {
				if seen[k] != 1 {
					t.Errorf("%s reported %d times", k, seen[k])
				}
			}
		})
	}
}

// A mistyped endpoint (a port nothing listens on) is reported within
// 5 s with the default flags.
func TestWrongPortFailsFast(t *testing.T) {
	s := serverFromEnv(t)
	code, stderr, _, took := s.scan(t, "s3://whatever", "--endpoint-url", "http://127.0.0.1:1")
	if code != 1 || !strings.Contains(stderr, "connection refused") || took > 5*time.Second {
		t.Errorf("exit %d in %v, stderr %q; want 1 within 5 s, connection refused", code, took, stderr)
	}
}

// Versions behind a delete marker: every version is reported once, and
// none is called missing unless the server says NoSuchKey/NoSuchVersion
// (MinIO answers such versions with another 404: an error with its code).
// With the bucket owner given, a server's fixed ACL whose grantee has no
// ID (MinIO) is not cross-account.
func TestVersionsBehindADeleteMarker(t *testing.T) {
	s := serverFromEnv(t)
	if s.name == "versitygw" {
		t.Skip("versitygw does not implement GetObjectAcl")
	}
	ctx := context.Background()
	c := s.client()
	bucket, _ := s.seed(t, 0)
	if _, err := s.admin().PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatalf("enable versioning: %v", err)
	}
	for _, key := range []string{"a", "a", "b"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(key), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: aws.String("a")}); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &bucket})
	if err != nil || len(list.Versions) != 3 {
		t.Fatalf("versions: %v, %d listed", err, len(list.Versions))
	}
	owner := aws.ToString(list.Versions[0].Owner.ID)
	code, stderr, recs, _ := s.scan(t, "s3://"+bucket, "--all-versions", "--bucket-owner", owner)
	statuses := map[string]int{}
	for _, r := range recs {
		statuses[r.Status]++
		if r.Status == "missing" {
			t.Errorf("%s version %v reported missing: no NoSuchKey/NoSuchVersion here", r.Key, *r.VersionID)
		}
		if r.Status == "error" && (r.Error == nil || !strings.Contains(*r.Error, "HTTP 404")) {
			t.Errorf("%s: error %v does not carry the server's answer", r.Key, r.Error)
		}
		for _, f := range r.Findings {
			if f == "cross-account" {
				t.Errorf("%s: cross-account from grants %+v", r.Key, r.Grants)
			}
		}
	}
	t.Logf("%s: exit %d, %d versions reported, statuses %v; stderr %q", s.name, code, len(recs), statuses, strings.TrimSpace(stderr))
	if len(recs) != 3 {
		t.Errorf("%d versions reported, want 3", len(recs))
	}
}

// Per-object grants and owners, on servers that keep them (radosgw,
// SeaweedFS): set with XML AccessControlPolicy bodies (SeaweedFS drops
// x-amz-grant-* headers) by the bucket's set-up identity, in the name of
// the objects' owner as the server reports it (on SeaweedFS the bucket
// owner owns every object), then judged by a scan as the other identity.
// COMPAT_OTHER_ID is another account's canonical ID; without it the test
// is skipped.
func TestGrantsJudged(t *testing.T) {
	s := serverFromEnv(t)
	otherID := os.Getenv("COMPAT_OTHER_ID")
	if otherID == "" {
		t.Skipf("%s keeps no per-object grants to test (no COMPAT_OTHER_ID)", s.name)
	}
	ctx := context.Background()
	c := s.admin()
	bucket, _ := s.seed(t, 3)
	current, err := s.client().GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: &bucket, Key: aws.String("k/00000")})
	if err != nil || current.Owner == nil {
		t.Fatalf("read the ACL of k/00000: %v", err)
	}
	ownerID := aws.ToString(current.Owner.ID)
	owner := types.Grant{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(ownerID)}, Permission: types.PermissionFullControl}
	policies := map[string][]types.Grant{
		"k/00000": {owner},
		"k/00001": {owner, {Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String("http://acs.amazonaws.com/groups/global/AllUsers")}, Permission: types.PermissionRead}},
		"k/00002": {owner, {Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(otherID)}, Permission: types.PermissionRead}},
	}
	for key, grants := range policies {
		_, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: &bucket, Key: aws.String(key),
			AccessControlPolicy: &types.AccessControlPolicy{Owner: &types.Owner{ID: aws.String(ownerID)}, Grants: grants}})
		if err != nil {
			t.Fatalf("put the ACL of %s: %v", key, err)
		}
	}
	code, stderr, recs, _ := s.scan(t, "s3://"+bucket, "--bucket-owner", ownerID)
	want := map[string]string{"k/00000": "", "k/00001": "public", "k/00002": "cross-account"}
	for _, r := range recs {
		if got := strings.Join(r.Findings, ","); got != want[r.Key] || r.Status != "ok" || r.OwnerID != ownerID {
			t.Errorf("%s: status %s, owner %q, findings %q; want ok, %q, %q (grants %+v)", r.Key, r.Status, r.OwnerID, got, ownerID, want[r.Key], r.Grants)
		}
	}
	if len(recs) != 3 || code != 0 {
		t.Errorf("exit %d, %d records; stderr %q", code, len(recs), stderr)
	}
	t.Logf("%s: exit %d, %d records judged", s.name, code, len(recs))
}
