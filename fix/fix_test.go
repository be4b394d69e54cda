package fix

import (
	"context"
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
		if err := Undo(context.Background(), mem, j, Options{Workers: 4}, func(Result) {}); err != nil {
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
	_ = Undo(context.Background(), mem, j, Options{}, func(res Result) { restored[res.Outcome]++ })
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
