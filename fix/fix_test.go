package fix

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/s3access"
)

var (
	ownerFC  = acl.Grant{Type: acl.TypeCanonicalUser, ID: "owner", Permission: "FULL_CONTROL"}
	allRead  = acl.Grant{Type: acl.TypeGroup, URI: acl.AllUsersURI, Permission: "READ"}
	authRead = acl.Grant{Type: acl.TypeGroup, URI: acl.AuthenticatedUsersURI, Permission: "READ"}
	partner  = acl.Grant{Type: acl.TypeCanonicalUser, ID: "partner", Permission: "READ"}
	logs     = acl.Grant{Type: acl.TypeGroup, URI: acl.LogDeliveryURI, Permission: "WRITE"}
)

func TestPlan(t *testing.T) {
	publicAuth := Mode{Kinds: acl.Findings(0).With(acl.Public).With(acl.Authenticated)}
	cases := []struct {
		name    string
		owner   string
		grants  []acl.Grant
		mode    Mode
		want    []acl.Grant // nil: no entry
		removed int
	}{
		{"public removed, partner kept", "owner", []acl.Grant{ownerFC, allRead, partner}, publicAuth, []acl.Grant{ownerFC, partner}, 1},
		{"both groups removed", "owner", []acl.Grant{authRead, ownerFC, allRead}, publicAuth, []acl.Grant{ownerFC}, 2},
		{"private: nothing to do", "owner", []acl.Grant{ownerFC}, publicAuth, nil, 0},
		{"cross-account asked", "owner", []acl.Grant{ownerFC, partner, logs}, Mode{Kinds: acl.Findings(0).With(acl.CrossAccount)}, []acl.Grant{ownerFC, logs}, 1},
		{"cross-account not asked", "owner", []acl.Grant{ownerFC, partner}, publicAuth, nil, 0},
		// An object another account owns keeps its owner's own grant.
		{"foreign owner keeps its grant", "stranger", []acl.Grant{{Type: acl.TypeCanonicalUser, ID: "stranger", Permission: "FULL_CONTROL"}, allRead},
			Mode{Kinds: Closable}, []acl.Grant{{Type: acl.TypeCanonicalUser, ID: "stranger", Permission: "FULL_CONTROL"}}, 1},
		{"canned private", "owner", []acl.Grant{allRead, partner}, Mode{Kinds: acl.Findings(0).With(acl.Public), Canned: CannedPrivate}, []acl.Grant{ownerFC}, 2},
		{"canned bucket-owner-full-control", "stranger", []acl.Grant{allRead}, Mode{Kinds: acl.Findings(0).With(acl.Public), Canned: CannedBucketOwnerFullControl},
			[]acl.Grant{{Type: acl.TypeCanonicalUser, ID: "stranger", Permission: "FULL_CONTROL"}, ownerFC}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := Plan("owner", tc.owner, tc.grants, tc.mode)
			if (tc.want != nil) != ok {
				t.Fatalf("planned %v, want %v", ok, tc.want != nil)
			}
			if ok && (!reflect.DeepEqual(e.After, tc.want) || len(e.Removed) != tc.removed) {
				t.Errorf("after %v (removed %v); want %v (%d removed)", e.After, e.Removed, tc.want, tc.removed)
			}
		})
	}
	if _, err := ParseMode([]acl.Kind{acl.ForeignOwner}, ""); err == nil {
		t.Error("foreign-owner accepted as a kind a fix closes")
	}
}

// memS3 holds ACLs in memory: the fix's API, with a hook to act between
// the read and the write of an object, and objects it refuses to change.
type memS3 struct {
	mu       sync.Mutex
	acls     map[string]acl.Policy
	refuse   map[string]bool
	puts     map[string]int
	crashAt  int // the put that makes its change and then "crashes" the run (0: never)
	crash    context.CancelFunc
	putCount int
	// afterPut, when set, acts right after a put (another writer).
	afterPut func(key string)
}

func (m *memS3) GetObjectACL(_ context.Context, bucket, key, version string) (acl.Policy, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.acls[key+"\x00"+version]
	if !ok {
		return p, &s3access.ResponseError{Status: 404, Code: "NoSuchKey"}
	}
	return acl.Policy{Owner: p.Owner, Grants: slices.Clone(p.Grants)}, nil
}

func (m *memS3) PutObjectACL(_ context.Context, bucket, key, version string, p acl.Policy) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refuse[key] {
		return &s3access.ResponseError{Status: 403, Code: "AccessDenied"}
	}
	m.putCount++
	if m.crashAt > 0 && m.putCount > m.crashAt {
		return context.Canceled // the run is gone: nothing more happens
	}
	m.acls[key+"\x00"+version] = acl.Policy{Owner: p.Owner, Grants: slices.Clone(p.Grants)}
	m.puts[key]++
	if m.afterPut != nil {
		m.afterPut(key)
	}
	if m.putCount == m.crashAt {
		m.crash() // the change is made; the run dies before logging it
		return context.Canceled
	}
	return nil
}

func (m *memS3) BucketContext(context.Context, string) (acl.BucketContext, error) {
	return acl.BucketContext{Owner: "owner", Policy: acl.Read(""), ACL: acl.Read([]acl.Grant{ownerFC})}, nil
}
func (m *memS3) PutBucketACL(context.Context, string, acl.Policy) error { return nil }
func (m *memS3) ServedAnonymously(context.Context, string, string, string) (bool, error) {
	return false, nil
}

// randomACL makes an ACL from a random mix of grants.
func randomACL(r *rand.Rand) []acl.Grant {
	pool := []acl.Grant{ownerFC, allRead, authRead, partner, logs,
		{Type: acl.TypeGroup, URI: acl.AllUsersURI, Permission: "WRITE_ACP"},
		{Type: acl.TypeCanonicalUser, ID: "other", Permission: "READ_ACP"}}
	var grants []acl.Grant
	for _, g := range pool {
		if r.IntN(2) == 0 {
			grants = append(grants, g)
		}
	}
	r.Shuffle(len(grants), func(i, j int) { grants[i], grants[j] = grants[j], grants[i] })
	return grants
}

// undo(fix(acl)) == acl, for random ACLs and every mode; fixing twice
// changes nothing the second time.
func TestUndoOfFixIsIdentity(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	modes := []Mode{{Kinds: acl.Findings(0).With(acl.Public).With(acl.Authenticated)}, {Kinds: Closable}, {Kinds: Closable, Canned: CannedPrivate}}
	for round := range 50 {
		mem := &memS3{acls: map[string]acl.Policy{}, puts: map[string]int{}}
		original := map[string][]acl.Grant{}
		var entries []Entry
		mode := modes[round%len(modes)]
		for i := range 40 {
			key := fmt.Sprintf("k%02d", i)
			grants := randomACL(r)
			mem.acls[key+"\x00"] = acl.Policy{Owner: "owner", Grants: grants}
			original[key] = slices.Clone(grants)
			if e, ok := Plan("owner", "owner", grants, mode); ok {
				e.Bucket, e.Key = "b", key
				entries = append(entries, e)
			}
		}
		path := filepath.Join(t.TempDir(), "undo.jsonl")
		j, err := OpenJournal(path)
		if err != nil {
			t.Fatal(err)
		}
		counts := Counts{}
		var mu sync.Mutex
		count := func(res Result) { mu.Lock(); counts[res.Outcome]++; mu.Unlock() }
		if err := Apply(context.Background(), mem, j, entries, Options{Workers: 4}, count); err != nil {
			t.Fatal(err)
		}
		if counts[Changed] != int64(len(entries)) {
			t.Fatalf("round %d: %v for %d entries", round, counts, len(entries))
		}
		for _, e := range entries {
			if found := acl.Classify("owner", "owner", mem.acls[e.Key+"\x00"].Grants) & mode.Kinds; found != 0 {
				t.Fatalf("%s still has %v after the fix", e.Key, found.Names())
			}
		}
		_ = j.Close()
		j, _ = OpenJournal(path)
		if err := Undo(context.Background(), mem, j, Options{Workers: 4, Apply: true}, nil, func(Result) {}); err != nil {
			t.Fatal(err)
		}
		_ = j.Close()
		for key, grants := range original {
			if got := mem.acls[key+"\x00"]; !SameACL("owner", got.Grants, "owner", grants) {
				t.Fatalf("round %d: %s is %v after undo, was %v", round, key, got.Grants, grants)
			}
		}
	}
}

// A crash after some changes: the same apply again changes nothing
// twice, accounts for every entry once, and undo restores everything.
func TestApplyResumesAfterACrash(t *testing.T) {
	mem := &memS3{acls: map[string]acl.Policy{}, puts: map[string]int{}, refuse: map[string]bool{"k07": true}, crashAt: 25}
	var entries []Entry
	for i := range 60 {
		key := fmt.Sprintf("k%02d", i)
		grants := []acl.Grant{ownerFC, allRead}
		mem.acls[key+"\x00"] = acl.Policy{Owner: "owner", Grants: grants}
		e, _ := Plan("owner", "owner", grants, Mode{Kinds: Closable})
		e.Bucket, e.Key = "b", key
		entries = append(entries, e)
	}
	// One object changes between the plan and the apply.
	mem.acls["k03\x00"] = acl.Policy{Owner: "owner", Grants: []acl.Grant{ownerFC}}
	path := filepath.Join(t.TempDir(), "undo.jsonl")
	j, _ := OpenJournal(path)
	ctx, cancel := context.WithCancel(context.Background())
	mem.crash = cancel
	if err := Apply(ctx, mem, j, entries, Options{Workers: 8}, func(Result) {}); err == nil {
		t.Fatal("the crashed run ended without an error")
	}
	// The crash: no Close. A torn last line as a power cut leaves it.
	_ = j.f.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString(`{"op":"before","bucket":"b","key":"k5`)
	_ = f.Close()

	mem.crashAt = 0
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]string{}
	var mu sync.Mutex
	err = Apply(context.Background(), mem, j, entries, Options{Workers: 8}, func(res Result) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := outcomes[res.Entry.Key]; dup {
			t.Errorf("%s reported twice", res.Entry.Key)
		}
		outcomes[res.Entry.Key] = res.Outcome
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = j.Close()
	for _, e := range entries {
		want := Changed
		switch e.Key {
		case "k03":
			want = Skipped
		case "k07":
			want = Failed
		}
		if outcomes[e.Key] != want {
			t.Errorf("%s: %q, want %q", e.Key, outcomes[e.Key], want)
		}
		if mem.puts[e.Key] > 1 {
			t.Errorf("%s changed %d times", e.Key, mem.puts[e.Key])
		}
	}
	j, _ = OpenJournal(path)
	restored := Counts{}
	_ = Undo(context.Background(), mem, j, Options{Apply: true}, nil, func(res Result) { restored[res.Outcome]++ })
	_ = j.Close()
	for _, e := range entries {
		if e.Key == "k03" || e.Key == "k07" {
			continue
		}
		if got := mem.acls[e.Key+"\x00"].Grants; !SameACL("", got, "", []acl.Grant{ownerFC, allRead}) {
			t.Errorf("%s not restored: %v", e.Key, got)
		}
	}
	if restored[Restored] != 58 || restored[Failed] != 0 {
		t.Errorf("undo: %v", restored)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), `"key":"k5`+"\n") {
		t.Error("the torn line stayed in the journal")
	}
}

func TestCheckAfter(t *testing.T) {
	cases := []struct {
		name        string
		read, after []acl.Grant
		ok          bool
	}{
		{"removing grants", []acl.Grant{ownerFC, allRead, partner}, []acl.Grant{ownerFC, partner}, true},
		{"nothing left but the owner", []acl.Grant{allRead}, []acl.Grant{ownerFC}, true},
		{"the bucket owner's full control (bucket-owner-full-control)", []acl.Grant{allRead}, []acl.Grant{{Type: acl.TypeCanonicalUser, ID: "bucket-owner", Permission: "FULL_CONTROL"}}, true},
		{"a public grant added", []acl.Grant{ownerFC}, []acl.Grant{ownerFC, {Type: acl.TypeGroup, URI: acl.AllUsersURI, Permission: "FULL_CONTROL"}}, false},
		{"a permission raised", []acl.Grant{ownerFC, partner}, []acl.Grant{ownerFC, {Type: acl.TypeCanonicalUser, ID: "partner", Permission: "FULL_CONTROL"}}, false},
		{"the owner's grant other than full control", []acl.Grant{}, []acl.Grant{{Type: acl.TypeCanonicalUser, ID: "owner", Permission: "WRITE_ACP"}}, false},
	}
	for _, tc := range cases {
		err := CheckAfter("owner", "bucket-owner", tc.read, tc.after)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// --canned private on an object another account owns keeps what the
// bucket owner had: the caller is not locked out of its own bucket.
func TestCannedPrivateKeepsTheBucketOwner(t *testing.T) {
	bucketFC := acl.Grant{Type: acl.TypeCanonicalUser, ID: "bucket-owner", Permission: "FULL_CONTROL"}
	writerFC := acl.Grant{Type: acl.TypeCanonicalUser, ID: "writer", Permission: "FULL_CONTROL"}
	e, ok := Plan("bucket-owner", "writer", []acl.Grant{writerFC, bucketFC, allRead}, Mode{Kinds: Closable, Canned: CannedPrivate})
	if !ok || !SameACL("", e.After, "", []acl.Grant{writerFC, bucketFC}) {
		t.Errorf("after %+v, want the writer's and the bucket owner's full control", e.After)
	}
	if err := CheckAfter("writer", "bucket-owner", e.Before, e.After); err != nil {
		t.Error(err)
	}
}

// A second run on the same undo log fails at once.
func TestJournalIsLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "undo.jsonl")
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenJournal(path); err == nil || !strings.Contains(err.Error(), "another aclscan run is using it") {
		t.Errorf("second open: %v", err)
	}
	j.Close()
	j, err = OpenJournal(path)
	if err != nil {
		t.Fatalf("after the first run: %v", err)
	}
	j.Close()
}

// A pending line (logged, not done) is completed only if it removes
// grants: one that would grant more is refused, and nothing is written.
func TestForgedPendingLineIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "undo.jsonl")
	forged := `{"op":"before","bucket":"b","key":"k","owner_id":"owner","grants":[` + grantJSON(ownerFC) + `],"after":[` +
		grantJSON(acl.Grant{Type: acl.TypeGroup, URI: acl.AllUsersURI, Permission: "FULL_CONTROL"}) + `,` + grantJSON(ownerFC) + `]}` + "\n"
	if err := os.WriteFile(path, []byte(forged), 0o600); err != nil {
		t.Fatal(err)
	}
	mem := &memS3{acls: map[string]acl.Policy{"k\x00": {Owner: "owner", Grants: []acl.Grant{ownerFC}}}, puts: map[string]int{}}
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	entry := Entry{Bucket: "b", Key: "k", Owner: "owner", BucketOwner: "owner", Before: []acl.Grant{ownerFC}, After: []acl.Grant{ownerFC}}
	var got Result
	if err := Apply(context.Background(), mem, j, []Entry{entry}, Options{}, func(r Result) { got = r }); err != nil {
		t.Fatal(err)
	}
	if got.Outcome != Failed || !strings.Contains(got.Reason, "refused") || mem.puts["k"] != 0 {
		t.Errorf("outcome %s %q, %d puts; want refused, nothing written", got.Outcome, got.Reason, mem.puts["k"])
	}
}

func grantJSON(g acl.Grant) string {
	b, _ := json.Marshal(g)
	return string(b)
}

// An object fixed by an earlier run of the same log and made public again
// is fixed again, with new lines, not reported as done.
func TestReExposureIsFixedAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "undo.jsonl")
	mem := &memS3{acls: map[string]acl.Policy{"k\x00": {Owner: "owner", Grants: []acl.Grant{ownerFC, allRead}}}, puts: map[string]int{}}
	plan := func() []Entry {
		p, _ := mem.GetObjectACL(context.Background(), "b", "k", "")
		e, ok := Plan("owner", "owner", p.Grants, Mode{Kinds: Closable})
		if !ok {
			t.Fatal("nothing to fix")
		}
		e.Bucket, e.Key = "b", "k"
		return []Entry{e}
	}
	for run := 0; run < 2; run++ {
		j, err := OpenJournal(path)
		if err != nil {
			t.Fatal(err)
		}
		var got Result
		if err := Apply(context.Background(), mem, j, plan(), Options{}, func(r Result) { got = r }); err != nil {
			t.Fatal(err)
		}
		j.Close()
		if got.Outcome != Changed || got.Earlier {
			t.Errorf("run %d: %s (earlier %v), want changed now", run+1, got.Outcome, got.Earlier)
		}
		// Someone makes it public again.
		mem.acls["k\x00"] = acl.Policy{Owner: "owner", Grants: []acl.Grant{ownerFC, allRead}}
	}
	if mem.puts["k"] != 2 {
		t.Errorf("%d puts, want 2: one per exposure", mem.puts["k"])
	}
	b, _ := os.ReadFile(path)
	if n := strings.Count(string(b), `"op":"before"`); n != 2 {
		t.Errorf("%d before lines, want 2", n)
	}
}

// A writer that changes the ACL right after the fix wrote it is seen.
func TestRaceAfterTheWriteIsReported(t *testing.T) {
	mem := &memS3{acls: map[string]acl.Policy{"k\x00": {Owner: "owner", Grants: []acl.Grant{ownerFC, allRead}}}, puts: map[string]int{}}
	mem.afterPut = func(key string) {
		mem.acls[key+"\x00"] = acl.Policy{Owner: "owner", Grants: []acl.Grant{ownerFC, authRead}}
	}
	e, _ := Plan("owner", "owner", []acl.Grant{ownerFC, allRead}, Mode{Kinds: Closable})
	e.Bucket, e.Key = "b", "k"
	j, err := OpenJournal(filepath.Join(t.TempDir(), "undo.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var got Result
	if err := Apply(context.Background(), mem, j, []Entry{e}, Options{}, func(r Result) { got = r }); err != nil {
		t.Fatal(err)
	}
	if !got.Raced || !strings.Contains(got.Reason, "AuthenticatedUsers:READ") {
		t.Errorf("result %+v, want the race reported with the ACL as it is now", got)
	}
}

// Undo without Apply writes nothing and says what restoring gives back.
func TestUndoDryRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "undo.jsonl")
	mem := &memS3{acls: map[string]acl.Policy{"k\x00": {Owner: "owner", Grants: []acl.Grant{ownerFC, allRead}}}, puts: map[string]int{}}
	e, _ := Plan("owner", "owner", []acl.Grant{ownerFC, allRead}, Mode{Kinds: Closable})
	e.Bucket, e.Key = "b", "k"
	j, _ := OpenJournal(path)
	if err := Apply(context.Background(), mem, j, []Entry{e}, Options{}, func(Result) {}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, _ = OpenJournal(path)
	defer j.Close()
	var got Result
	if err := Undo(context.Background(), mem, j, Options{}, nil, func(r Result) { got = r }); err != nil {
		t.Fatal(err)
	}
	if got.Outcome != WouldRestore || !got.Reopens.Has(acl.Public) || mem.puts["k"] != 1 {
		t.Errorf("dry run: %s reopens %v, %d puts; want would-restore, public, no new put", got.Outcome, got.Reopens.Names(), mem.puts["k"])
	}
}
