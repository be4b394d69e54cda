package watch

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aclscan/aclscan/accept"
	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/batch"
	"github.com/aclscan/aclscan/fix"
	"github.com/aclscan/aclscan/internal/testkit/fakes3"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

const (
	publicACL  = `<AccessControlPolicy><Owner><ID>owner</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>owner</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`
	privateACL = `<AccessControlPolicy><Owner><ID>owner</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>owner</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`
)

// One judge per event, from the ACL as it is now, not the event's: a
// delivery sent twice writes nothing new while the ACL stays; a change
// writes again; removals and other buckets are left alone; an
// EventBridge key that is not found is tried decoded. The fake S3 gives
// answers on demand (the integration test runs radosgw's push).
func TestWatcher(t *testing.T) {
	t.Parallel()
	fake := fakes3.New()
	fake.BucketACL = fakes3.Answer{Status: 200, Body: privateACL}
	fake.Put("uploads/a.png", 200, publicACL)
	fake.Put("uploads/b c.png", 200, privateACL)
	client := fakeClient(t, fake)
	w := &Watcher{API: client, Allowed: func(b string) bool { return b == "b" }, Contexts: &batch.Contexts{Read: client.BucketContext}}
	var written []scan.Result
	sink := scan.SinkFunc(func(r *scan.Result) error { written = append(written, *r); return nil })
	created := Event{Bucket: "b", Key: "uploads/a.png", Name: "ObjectCreated:Put", Source: "ceph:s3", ID: "1"}

	out, err := w.Judge(context.Background(), []Event{created, created, {Bucket: "b", Key: "x", Name: "ObjectRemoved:Delete"}, {Bucket: "other", Key: "y", Name: "ObjectCreated:Put"}}, sink)
	if err != nil || out.Judged != 1 || out.Ignored != 2 || len(written) != 1 || !written[0].Effective.Has(acl.Public) || written[0].Cause == nil || written[0].Cause.ID != "1" {
		t.Fatalf("first delivery: %+v, %v, %d written %+v", out, err, len(written), written)
	}
	if out, err := w.Judge(context.Background(), []Event{created}, sink); err != nil || out.Unchanged != 1 || len(written) != 1 {
		t.Errorf("the same delivery again: %+v, %v, %d written; want nothing new", out, err, len(written))
	}
	fake.Change(func() { fake.ObjectACL["uploads/a.png"] = fakes3.Answer{Status: 200, Body: privateACL} })
	if out, err := w.Judge(context.Background(), []Event{{Bucket: "b", Key: "uploads/a.png", Name: "ObjectAcl:Put", Source: "aws:s3"}}, sink); err != nil || out.Judged != 1 || len(written) != 2 || written[1].Findings != 0 {
		t.Errorf("after the ACL changed: %+v, %v, %+v; want a new, clean record", out, err, written)
	}
	bridged := Event{Bucket: "b", Key: "uploads/b%20c.png", Name: "Object Created", Source: "aws.s3", KeyMaybeEncoded: true}
	if out, err := w.Judge(context.Background(), []Event{bridged}, sink); err != nil || len(written) != 3 || written[2].Key != "uploads/b c.png" || written[2].Status != scan.StatusOK {
		t.Errorf("an EventBridge key not found as given: %+v, %v, %+v; want the decoded key judged, and no missing record", out, err, written[2:])
	}
}

// Remediation through the fix path: a public upload is closed at once,
// its ACL saved to the delivery's undo log first; the owner's grant
// stays; the same delivery sent again changes nothing; an accepted
// finding is left alone.
func TestWatcherRemediates(t *testing.T) {
	t.Parallel()
	fake := fakes3.New()
	fake.BucketACL = fakes3.Answer{Status: 200, Body: privateACL}
	fake.Put("uploads/leak.png", 200, publicACL)
	fake.Put("site/logo.png", 200, publicACL)
	client := fakeClient(t, fake)
	rules, err := accept.Parse([]byte("rules:\n  - {id: site, bucket: b, key: \"site/**\", findings: [public], reason: the website}\n"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var logs []string
	w := &Watcher{API: client, Accept: rules, Remediate: &Remediation{Mode: fix.Mode{Kinds: acl.Findings(0).With(acl.Public)}, API: client,
		Journal: func() (*fix.Journal, error) {
			return fix.OpenJournal(filepath.Join(dir, fmt.Sprintf("undo-%d.jsonl", len(logs))))
		},
		Done: func(j *fix.Journal) error { logs = append(logs, j.Path()); return nil }}}
	sink := scan.SinkFunc(func(*scan.Result) error { return nil })
	events := []Event{{Bucket: "b", Key: "uploads/leak.png", Name: "ObjectCreated:Put"}, {Bucket: "b", Key: "site/logo.png", Name: "ObjectCreated:Put"}}
	out, err := w.Judge(context.Background(), events, sink)
	if err != nil || out.Remediated != 1 || out.RemediationFailed != 0 || len(logs) != 1 {
		t.Fatalf("first delivery: %+v, %v, logs %v; want the leak closed, the site left", out, err, logs)
	}
	var leak, site string
	fake.Change(func() { leak, site = fake.ObjectACL["uploads/leak.png"].Body, fake.ObjectACL["site/logo.png"].Body })
	if strings.Contains(leak, "AllUsers") || !strings.Contains(leak, "owner") {
		t.Errorf("the leak's ACL now: %s; want the owner's grant alone", leak)
	}
	if !strings.Contains(site, "AllUsers") {
		t.Error("the accepted website asset was changed")
	}
	saved, _ := os.ReadFile(logs[0])
	if !strings.Contains(string(saved), "AllUsers") {
		t.Errorf("the undo log does not hold the ACL before the change: %s", saved)
	}
	if out, err := w.Judge(context.Background(), events[:1], sink); err != nil || out.Remediated != 0 || len(logs) != 1 || fake.Count("put-acl") != 1 {
		t.Errorf("the delivery again: %+v, %v, %d logs, %d writes; want nothing changed", out, err, len(logs), fake.Count("put-acl"))
	}
}

// fakeClient is an aclscan client to the fake S3: one attempt, retries
// at once.
func fakeClient(t *testing.T, fake *fakes3.Server) *s3access.Client {
	t.Helper()
	client, err := s3access.New(context.Background(), s3access.Options{EndpointURL: fake.URL(t), MaxAttempts: 1,
		Credentials: s3access.StaticCredentials("AKIDTEST", "test-secret", ""),
		Backoff:     retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// Faults: an event for an object already deleted writes a missing record
// (no crash, the delivery acknowledged); S3 asking to slow down is waited
// out and the object judged.
func TestWatcherFaults(t *testing.T) {
	t.Parallel()
	fake := fakes3.New()
	fake.BucketACL = fakes3.Answer{Status: 200, Body: privateACL}
	fake.Put("uploads/a.png", 200, publicACL)
	var throttled atomic.Int64
	fake.Hook = func(w http.ResponseWriter, r *http.Request, acls int) bool {
		if acls == 1 { // the first GetObjectAcl: slow down
			throttled.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(fakes3.ErrorXML("SlowDown")))
			return true
		}
		return false
	}
	w := &Watcher{API: fakeClient(t, fake)}
	var written []scan.Result
	sink := scan.SinkFunc(func(r *scan.Result) error { written = append(written, *r); return nil })
	out, err := w.Judge(context.Background(), []Event{
		{Bucket: "b", Key: "uploads/a.png", Name: "ObjectCreated:Put"},
		{Bucket: "b", Key: "deleted-since", Name: "ObjectCreated:Put"},
	}, sink)
	if err != nil || out.Judged != 2 || len(written) != 2 {
		t.Fatalf("%+v, %v, %+v", out, err, written)
	}
	byKey := map[string]scan.Result{written[0].Key: written[0], written[1].Key: written[1]}
	if byKey["deleted-since"].Status != scan.StatusMissing || !byKey["uploads/a.png"].Effective.Has(acl.Public) || throttled.Load() != 1 {
		t.Errorf("records %+v after %d throttled answers; want the deleted object missing, the other judged public after the throttle", byKey, throttled.Load())
	}
}
