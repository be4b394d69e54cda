//go:build integration

package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/internal/testkit"
	"github.com/aclscan/aclscan/report"
)

// The watch against radosgw's own push notifications: a topic whose push
// endpoint is the watch, a bucket that notifies it of every created
// object. A public upload is judged from its event, written with it, and
// closed at once (--remediate public, its ACL saved to an undo log); a
// private one is written clean; SIGTERM ends the watch with every record
// flushed.
func TestIntegrationWatchRadosgwPush(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	bucket := locals3.NewBucket(t, env, "watched")
	dir := t.TempDir()
	out, errFile := filepath.Join(dir, "watch.jsonl"), filepath.Join(dir, "stderr")
	stderr, err := os.Create(errFile)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	undo := filepath.Join(dir, "undo")
	if err := os.Mkdir(undo, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := localCommand(t, buildCLI(t), "watch", "--listen", "127.0.0.1:0", "-o", out, "--no-accept", "--remediate", "public", "--undo-dir", undo)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	endpoint := waitFor(t, func() string {
		b, _ := os.ReadFile(errFile)
		return regexp.MustCompile(`http://127\.0\.0\.1:\d+/`).FindString(string(b))
	})

	if err := locals3.PushTo(ctx, env, bucket, endpoint); err != nil {
		t.Fatal(err)
	}
	if err := locals3.PutObjects(ctx, a, bucket, []string{"uploads/a b+c.png"}, locals3.PublicRead); err != nil {
		t.Fatal(err)
	}
	if err := locals3.PutObjects(ctx, a, bucket, []string{"uploads/private.txt"}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() string {
		if recs, err := testkit.ReadReport(out); err == nil && len(recs) >= 2 {
			return "both"
		}
		return ""
	})
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		b, _ := os.ReadFile(errFile)
		t.Fatalf("the watch ended with %v:\n%s", err, b)
	}
	byKey := map[string]report.Record{}
	for _, rec := range testkit.Records(t, out) {
		byKey[rec.Key] = rec
	}
	pub, priv := byKey["uploads/a b+c.png"], byKey["uploads/private.txt"]
	if strings.Join(pub.Effective, ",") != "public" || pub.Event == nil || pub.Event.Source != "ceph:s3" || !strings.HasPrefix(pub.Event.Name, "ObjectCreated") {
		t.Errorf("the public upload (its key raw in radosgw's record): %+v, event %+v", pub, pub.Event)
	}
	if priv.Status != "ok" || len(priv.Findings) != 0 || priv.Event == nil {
		t.Errorf("the private upload: %+v", priv)
	}
	if b, _ := os.ReadFile(errFile); !strings.Contains(string(b), "watch ended: 2 records written") || !strings.Contains(string(b), "remediation: 1 ACLs closed") {
		t.Errorf("stderr: %s", b)
	}
	// Remediated at once: anyone is refused now, and the ACL before is in an undo log.
	if code := anonymousGET(t, env, bucket, "uploads/a b+c.png"); code != http.StatusForbidden {
		t.Errorf("the public upload after the watch: anonymous GET %d, want 403", code)
	}
	if logs, _ := filepath.Glob(filepath.Join(undo, "undo-*.jsonl")); len(logs) != 1 {
		t.Errorf("undo logs %v; want one, of the delivery that changed an ACL", logs)
	}
}

// waitFor polls until get returns something (30 s at most).
func waitFor(t *testing.T, get func() string) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if v := get(); v != "" {
			return v
		}
	}
	t.Fatal("gave up waiting")
	return ""
}
