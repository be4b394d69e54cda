//go:build integration

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
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

	if err := locals3.PushTo(ctx, env, locals3.Push{Bucket: bucket, Endpoint: endpoint}); err != nil {
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
	return waitUpTo(t, 30*time.Second, get)
}

// waitUpTo polls until get returns something (limit at most).
func waitUpTo(t *testing.T, limit time.Duration, get func() string) string {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if v := get(); v != "" {
			return v
		}
	}
	t.Fatal("gave up waiting")
	return ""
}

// The watch is killed (SIGKILL: nothing flushed, nothing answered) in the
// middle of a burst of deliveries and started again on the same address;
// the sender sends again what was not answered, as a pusher that retries
// does. Every delivery answered 200 before the kill has its records in
// the first output, whole (records are flushed before the answer); the
// deliveries sent again are judged by the second watch; every object is
// judged at least once. The deliveries are radosgw-shaped records sent by
// the test: radosgw's own retries are not dependable (docs/watch.md), and
// what is tested here is what the watch promises a sender.
func TestIntegrationWatchKilledMidBurst(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	bucket := locals3.NewBucket(t, env, "killed")
	keys := locals3.Keys("burst/", 300)
	if err := locals3.PutObjects(ctx, a, bucket, keys, locals3.PublicRead); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	bin, dir := buildCLI(t), t.TempDir()
	start := func(n int) (*exec.Cmd, string) {
		out := filepath.Join(dir, fmt.Sprintf("watch-%d.jsonl", n))
		cmd := localCommand(t, bin, "watch", "--listen", addr, "-o", out, "--no-accept")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		waitFor(t, func() string {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				return "listening"
			}
			return ""
		})
		return cmd, out
	}
	// One delivery per 10 objects, as radosgw shapes them (raw keys).
	delivery := func(keys []string) []byte {
		var recs []string
		for _, k := range keys {
			recs = append(recs, fmt.Sprintf(`{"eventVersion":"2.2","eventSource":"ceph:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":%q},"object":{"key":%q}}}`, bucket, k))
		}
		return []byte(`{"Records":[` + strings.Join(recs, ",") + `]}`)
	}
	send := func(keys []string) bool {
		resp, err := http.Post("http://"+addr+"/", "application/json", bytes.NewReader(delivery(keys)))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	first, out1 := start(1)
	var mu sync.Mutex
	var unanswered [][]string
	answered := 0
	var wg sync.WaitGroup
	for i := 0; i < len(keys); i += 10 {
		batchKeys := keys[i : i+10]
		if i == 150 {
			// Mid-burst: some deliveries answered, others in flight.
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				mu.Lock()
				n := answered
				mu.Unlock()
				if n >= 8 {
					break
				}
			}
			_ = first.Process.Kill()
		}
		wg.Go(func() {
			ok := send(batchKeys)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				answered++
			} else {
				unanswered = append(unanswered, batchKeys)
			}
		})
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	_ = first.Wait()
	before, err := testkit.ReadReport(out1)
	if err != nil {
		t.Fatalf("the records written before the kill are not whole: %v", err)
	}
	if len(before) < answered*10 {
		t.Fatalf("%d deliveries answered 200 before the kill, but only %d records written: an answered delivery was lost", answered, len(before))
	}
	second, out2 := start(2)
	for _, keys := range unanswered {
		if !send(keys) {
			t.Fatalf("a delivery sent again to the restarted watch was refused")
		}
	}
	_ = second.Process.Signal(syscall.SIGTERM)
	if err := second.Wait(); err != nil {
		t.Fatalf("the second watch ended with %v", err)
	}
	after, err := testkit.ReadReport(out2)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range append(before, after...) {
		seen[r.Key]++
		if strings.Join(r.Effective, ",") != "public" || r.Event == nil || r.Event.Source != "ceph:s3" {
			t.Errorf("record %s: %+v", r.Key, r)
		}
	}
	repeated := 0
	for _, k := range keys {
		if seen[k] == 0 {
			t.Errorf("%s was never judged", k)
		}
		repeated += max(seen[k]-1, 0)
	}
	if len(unanswered) == 0 || answered == 0 {
		t.Errorf("%d deliveries answered, %d not: the kill did not land mid-burst", answered, len(unanswered))
	}
	t.Logf("%d deliveries answered before the kill, %d sent again after it; %d records repeated (at least once)", answered, len(unanswered), repeated)
}
