//go:build integration

// Integration tests: the engine against a real S3 (Ceph radosgw started by
// scripts/local-s3). Run with: go test -tags integration ./...

package scan

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/internal/faultproxy"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// newClient is aclscan's client on the local S3 acting as user A, unless
// opts say another endpoint or other credentials.
func newClient(t *testing.T, env locals3.Env, opts s3access.Options) *s3access.Client {
	t.Helper()
	if opts.EndpointURL == "" {
		opts.EndpointURL = env.HTTPURL
	}
	if opts.Credentials == nil {
		opts.Credentials = env.A.Credentials()
	}
	c, err := s3access.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func scanAll(t *testing.T, api API, cfg Config) (*Summary, *collect) {
	t.Helper()
	var sink collect
	sum, err := Run(context.Background(), api, cfg, &sink, nil)
	if err != nil {
		t.Fatalf("scan %+v: %v", cfg, err)
	}
	return sum, &sink
}

func kinds(ks ...acl.Kind) acl.Findings {
	var f acl.Findings
	for _, k := range ks {
		f = f.With(k)
	}
	return f
}

// The pagination bucket is seeded once per server and reused across runs.
const paginationBucket = "it-pagination-2500"

func TestIntegrationPaginationEveryKeyOncePerStrategy(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	if err := locals3.CreateBucket(ctx, a, paginationBucket); err != nil {
		t.Fatal(err)
	}
	keys := locals3.Keys("page/", 2500)
	if n, err := locals3.CountObjects(ctx, a, paginationBucket); err != nil || n != len(keys) {
		if err := locals3.PutObjects(ctx, a, paginationBucket, keys, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, strategy := range []Strategy{Serial, Pool, All} {
		t.Run(strategy.String(), func(t *testing.T) {
			sink := &listCounter{API: newClient(t, env, s3access.Options{})}
			sum, results := scanAll(t, sink, Config{Bucket: paginationBucket, Strategy: strategy, Concurrency: 32})
			if len(results.order) != 2500 || len(results.byKey) != 2500 {
				t.Fatalf("got %d results (%d distinct), want 2500", len(results.order), len(results.byKey))
			}
			for _, k := range keys {
				if r, ok := results.byKey[k+"\x00"]; !ok || r.Status != StatusOK || r.Findings != 0 {
					t.Fatalf("key %s: present=%v result=%+v", k, ok, r)
				}
			}
			// The bucket's context (ACL, ownership, Block Public Access,
			// policy status, policy; the account's settings and access
			// points are not asked of radosgw) + list
			// requests + one GetObjectAcl per key. One chain lists 3 pages;
			// split ranges add a request each.
			lists := sink.lists.Load()
			if strategy == Serial && lists != 3 {
				t.Errorf("serial scan sent %d list requests, want 3", lists)
			}
			if want := 5 + lists + 2500; sum.Requests != want {
				t.Errorf("requests = %d, want %d (retries or lost pages?)", sum.Requests, want)
			}
		})
	}
}

// deleteAfterListing deletes one key right after the listing shows it, so
// its GetObjectAcl meets a real NoSuchKey: the "missing" status.
type deleteAfterListing struct {
	API
	victim  string
	deleter *s3.Client
	bucket  string
}

func (d deleteAfterListing) ListPage(ctx context.Context, req *s3access.ListRequest) (*s3access.ListPage, error) {
	out, err := d.API.ListPage(ctx, req)
	if err == nil {
		_, err = d.deleter.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &d.bucket, Key: &d.victim})
	}
	return out, err
}

func TestIntegrationEveryFindingAndStatus(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a, b := env.Client(env.A), env.Client(env.B)
	bucket := locals3.NewBucket(t, env, "findings")
	put := func(c *s3.Client, key string, edit func(*s3.PutObjectInput)) {
		t.Helper()
		if err := locals3.PutObjects(ctx, c, bucket, []string{key}, edit); err != nil {
			t.Fatal(err)
		}
	}
	put(a, "private", nil)
	put(a, "public", locals3.PublicRead)
	put(a, "public-write", func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLPublicReadWrite })
	put(a, "authenticated", func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLAuthenticatedRead })
	put(a, "shared-with-b", func(in *s3.PutObjectInput) {
		in.GrantFullControl = aws.String("id=" + env.A.ID)
		in.GrantRead = aws.String("id=" + env.B.ID)
	})
	// An explicit grant replaces the default: the owner has no grant left.
	put(a, "only-b-reads", func(in *s3.PutObjectInput) { in.GrantRead = aws.String("id=" + env.B.ID) })
	put(a, "deleted-midway", nil)
	if err := locals3.GrantBucketWrite(ctx, a, bucket, env.A, env.B); err != nil {
		t.Fatal(err)
	}
	put(b, "from-b-private", nil)
	put(b, "from-b-owner-full-control", func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLBucketOwnerFullControl })

	api := deleteAfterListing{API: newClient(t, env, s3access.Options{}), victim: "deleted-midway", deleter: a, bucket: bucket}
	want := map[string]struct {
		status Status
		kinds  acl.Findings
		owner  string
	}{
		"private":                   {StatusOK, 0, env.A.ID},
		"public":                    {StatusOK, kinds(acl.Public), env.A.ID},
		"public-write":              {StatusOK, kinds(acl.Public), env.A.ID},
		"authenticated":             {StatusOK, kinds(acl.Authenticated), env.A.ID},
		"shared-with-b":             {StatusOK, kinds(acl.CrossAccount), env.A.ID},
		"only-b-reads":              {StatusOK, kinds(acl.CrossAccount), env.A.ID},
		"deleted-midway":            {StatusMissing, 0, env.A.ID},
		"from-b-private":            {StatusDenied, kinds(acl.Unreadable, acl.ForeignOwner), env.B.ID},
		"from-b-owner-full-control": {StatusOK, kinds(acl.CrossAccount, acl.ForeignOwner), env.B.ID},
	}
	for _, strategy := range []Strategy{Serial, Pool} {
		t.Run(strategy.String(), func(t *testing.T) {
			put(a, "deleted-midway", nil)
			sum, sink := scanAll(t, api, Config{Bucket: bucket, Strategy: strategy})
			if len(sink.byKey) != len(want) {
				t.Fatalf("got %d results, want %d: %v", len(sink.byKey), len(want), sink.order)
			}
			for key, w := range want {
				r := sink.byKey[key+"\x00"]
				if r.Status != w.status || r.Findings != w.kinds || r.OwnerID != w.owner {
					t.Errorf("%s: status %s findings %v owner %q; want %s %v %q (grants %+v, err %q)",
						key, r.Status, r.Findings.Names(), r.OwnerID, w.status, w.kinds.Names(), w.owner, r.Grants, r.Err)
				}
			}
			if sum.BucketOwner != env.A.ID || sum.OwnerSource != "GetBucketAcl" {
				t.Errorf("bucket owner %q from %q", sum.BucketOwner, sum.OwnerSource)
			}
			if sum.Found(acl.Public) != 2 || sum.Found(acl.CrossAccount) != 3 || sum.Count(StatusDenied) != 1 || sum.Count(StatusMissing) != 1 {
				t.Errorf("summary counts: public %d cross %d denied %d missing %d", sum.Found(acl.Public), sum.Found(acl.CrossAccount), sum.Count(StatusDenied), sum.Count(StatusMissing))
			}
		})
	}
}

// Seen by user B, who may list the bucket but not read its ACL: the owner
// is unknown unless given, and owner-dependent kinds are then not judged.
func TestIntegrationBucketOwnerFallback(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	bucket := locals3.NewBucket(t, env, "owner")
	if err := locals3.PutObjects(ctx, a, bucket, []string{"shared"}, func(in *s3.PutObjectInput) {
		in.GrantFullControl = aws.String("id=" + env.A.ID)
		in.GrantReadACP = aws.String("id=" + env.B.ID)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &bucket, GrantFullControl: aws.String("id=" + env.A.ID), GrantRead: aws.String("id=" + env.B.ID)}); err != nil {
		t.Fatal(err)
	}
	api := newClient(t, env, s3access.Options{Credentials: env.B.Credentials()})

	sum, sink := scanAll(t, api, Config{Bucket: bucket})
	if sum.BucketOwner != "" || !strings.Contains(sum.OwnerProblem, "denied") {
		t.Errorf("owner %q problem %q; want unknown because GetBucketAcl is denied", sum.BucketOwner, sum.OwnerProblem)
	}
	// B may not read the bucket policy either: every object says so.
	unjudged := kinds(acl.PolicyUnjudged)
	deniedPolicy := func(r Result) bool {
		for _, s := range r.Doors.Sources(r.OwnerID, r.Grants) {
			if strings.Contains(s.Note, "GetBucketPolicy was denied") {
				return true
			}
		}
		return false
	}
	if r := sink.byKey["shared\x00"]; r.Status != StatusOK || r.Findings != unjudged || !deniedPolicy(r) {
		t.Errorf("without the owner: %s %v %+v, want ok, judged nothing but policy-unjudged (the policy is B's to not read)", r.Status, r.Findings.Names(), r.Doors.Sources(r.OwnerID, r.Grants))
	}

	sum, sink = scanAll(t, api, Config{Bucket: bucket, BucketOwner: env.A.ID})
	if sum.BucketOwner != env.A.ID || sum.OwnerSource != "configured" {
		t.Errorf("owner %q from %q, want the configured one", sum.BucketOwner, sum.OwnerSource)
	}
	if r := sink.byKey["shared\x00"]; r.Findings != kinds(acl.CrossAccount, acl.PolicyUnjudged) {
		t.Errorf("with the owner: findings %v, want cross-account", r.Findings.Names())
	}
}

func TestIntegrationVersions(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	bucket := locals3.NewVersionedBucket(t, env, "versions")
	versionOf := func(key string, edit func(*s3.PutObjectInput)) string {
		in := &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: strings.NewReader("x")}
		if edit != nil {
			edit(in)
		}
		out, err := a.PutObject(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.VersionId)
	}
	// "doc a+b" was public once, then made private, then deleted.
	docKey := "doc a+b"
	v1 := versionOf(docKey, locals3.PublicRead)
	v2 := versionOf(docKey, nil)
	if _, err := a.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &docKey}); err != nil {
		t.Fatal(err)
	}
	v3 := versionOf("other", func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLAuthenticatedRead })

	for _, pageSize := range []int32{1, 1000} {
		t.Run(fmt.Sprintf("page-size-%d", pageSize), func(t *testing.T) {
			sum, sink := scanAll(t, newClient(t, env, s3access.Options{}), Config{Bucket: bucket, AllVersions: true, PageSize: pageSize})
			want := map[string]struct {
				latest bool
				kinds  acl.Findings
			}{
				docKey + "\x00" + v1: {false, kinds(acl.Public)},
				docKey + "\x00" + v2: {false, 0},
				"other\x00" + v3:     {true, kinds(acl.Authenticated)},
			}
			if len(sink.byKey) != len(want) {
				t.Fatalf("got %d versions %v, want %d", len(sink.byKey), sink.order, len(want))
			}
			for id, w := range want {
				r, ok := sink.byKey[id]
				if !ok || r.Status != StatusOK || r.IsLatest != w.latest || r.Findings != w.kinds || !r.Versioned {
					t.Errorf("%q: present %v, %+v; want latest=%v findings %v", id, ok, r, w.latest, w.kinds.Names())
				}
			}
			if sum.DeleteMarkers != 1 {
				t.Errorf("delete markers = %d, want 1", sum.DeleteMarkers)
			}
		})
	}

	// Without --all-versions only the current objects count.
	_, sink := scanAll(t, newClient(t, env, s3access.Options{}), Config{Bucket: bucket})
	if len(sink.byKey) != 1 || sink.byKey["other\x00"].Findings != kinds(acl.Authenticated) || sink.byKey["other\x00"].Versioned {
		t.Errorf("current objects: %v", sink.byKey)
	}
}

func TestIntegrationPrefixScoping(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	bucket := locals3.NewBucket(t, env, "prefix")
	if err := locals3.PutObjects(context.Background(), env.Client(env.A), bucket, []string{"a/1", "a/2", "ab/3", "b/4", "a"}, nil); err != nil {
		t.Fatal(err)
	}
	for prefix, want := range map[string][]string{
		"a/": {"a/1", "a/2"},
		"a":  {"a", "a/1", "a/2", "ab/3"},
		"":   {"a", "a/1", "a/2", "ab/3", "b/4"},
		"c/": {},
	} {
		_, sink := scanAll(t, newClient(t, env, s3access.Options{}), Config{Bucket: bucket, Prefix: prefix, PageSize: 2})
		got := append([]string{}, sink.order...)
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("prefix %q: got %v, want %v", prefix, got, want)
		}
	}
}

func TestIntegrationHostileKeys(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	keys := []string{
		"with space", "plus+sign", "a + b", "percent%20literal", "100%", `double"quote`, "single'quote",
		"amp&ersand", "less<greater>", "ünïcödé/日本語/emoji-🔑", "trailing-slash/", "//double//slash",
		"../dot-dot", "tab\there", "question?mark", "hash#tag", "equals=sign",
		strings.Repeat("k", 1024), strings.Repeat("é", 512),
	}
	// Small pages put hostile keys on page boundaries (continuation tokens
	// and version markers).
	t.Run("small-pages", func(t *testing.T) { checkKeysScanned(t, env, keys, 3) })
	// Control characters on page boundaries (page size 1): radosgw writes
	// the raw key into NextContinuationToken and NextKeyMarker as a
	// character reference XML 1.0 forbids (&#x01;); the list parser takes
	// it, as XML 1.1 does, and sends the token back as it was.
	t.Run("control-characters", func(t *testing.T) {
		checkKeysScanned(t, env, append([]string{"ctl\x01char", "del\x7fchar", "esc\x1b[31mred"}, keys...), 1)
	})
}

func checkKeysScanned(t *testing.T, env locals3.Env, keys []string, pageSize int32) {
	bucket := locals3.NewBucket(t, env, "keys")
	if err := locals3.PutObjects(context.Background(), env.Client(env.A), bucket, keys, nil); err != nil {
		t.Fatal(err)
	}
	for _, versions := range []bool{false, true} {
		for _, strategy := range []Strategy{Serial, Pool} {
			t.Run(fmt.Sprintf("versions=%v/%s", versions, strategy), func(t *testing.T) {
				_, sink := scanAll(t, newClient(t, env, s3access.Options{}), Config{Bucket: bucket, Strategy: strategy, AllVersions: versions, PageSize: pageSize})
				if len(sink.order) != len(keys) {
					t.Errorf("got %d results, want %d", len(sink.order), len(keys))
				}
				seen := map[string]Result{}
				for _, r := range sink.byKey {
					seen[r.Key] = r
				}
				for _, k := range keys {
					// An ok status proves the decoded key was right: a wrong
					// key would have answered NoSuchKey.
					if r, ok := seen[k]; !ok || r.Status != StatusOK {
						t.Errorf("key %q: present=%v status=%s err=%q", k, ok, r.Status, r.Err)
					}
				}
			})
		}
	}
}

func TestIntegrationEmptyBucket(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	bucket := locals3.NewBucket(t, env, "empty")
	for _, versions := range []bool{false, true} {
		sum, sink := scanAll(t, newClient(t, env, s3access.Options{}), Config{Bucket: bucket, AllVersions: versions})
		if sum.Objects != 0 || len(sink.order) != 0 || !sum.Complete || sum.BucketOwner != env.A.ID {
			t.Errorf("versions=%v: %+v", versions, sum)
		}
	}
}

// listCounter counts list requests and the ranges they started.
type listCounter struct {
	API
	lists  atomic.Int64
	ranges atomic.Int64 // list requests that began a range after a split point
}

func (l *listCounter) Requests() int64 { return l.API.(requestCounter).Requests() }

func (l *listCounter) ListPage(ctx context.Context, req *s3access.ListRequest) (*s3access.ListPage, error) {
	l.lists.Add(1)
	if req.StartAfter != "" && req.Next == (s3access.PageMarker{}) {
		l.ranges.Add(1)
	}
	return l.API.ListPage(ctx, req)
}

// Parallel listing on real key layouts: a flat run of numbered keys and
// a deep hierarchy, current objects and versions (with delete markers and
// several versions per key), small pages so that ranges split often.
// Every entry must come out exactly once, as with one chain.
func TestIntegrationPartitionedListing(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	layouts := map[string][]string{
		"flat": locals3.Keys("flat-", 1200),
		"deep": func() []string {
			var keys []string
			for i := range 1200 {
				keys = append(keys, fmt.Sprintf("tenant-%d/%04d/%02d/obj-%d", i%5, 2020+i%4, i%12, i))
			}
			return keys
		}(),
	}
	for name, keys := range layouts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bucket := locals3.NewVersionedBucket(t, env, name)
			if err := locals3.PutObjects(ctx, a, bucket, keys, nil); err != nil {
				t.Fatal(err)
			}
			// Second versions and delete markers on every 10th key.
			var again []string
			for i := 0; i < len(keys); i += 10 {
				again = append(again, keys[i])
			}
			if err := locals3.PutObjects(ctx, a, bucket, again, nil); err != nil {
				t.Fatal(err)
			}
			for i := 5; i < len(keys); i += 100 {
				if _, err := a.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &keys[i]}); err != nil {
					t.Fatal(err)
				}
			}
			for _, versions := range []bool{false, true} {
				t.Run(fmt.Sprintf("versions=%v", versions), func(t *testing.T) {
					// The reference lists in one chain; its ACLs are fetched
					// by a pool, which does not change what is listed.
					cfg := Config{Bucket: bucket, AllVersions: versions, PageSize: 40, Strategy: Pool, ListConcurrency: 1}
					serialSum, serial := scanAll(t, newClient(t, env, s3access.Options{}), cfg)
					cfg.ListConcurrency = 8
					counter := &listCounter{API: newClient(t, env, s3access.Options{})}
					sum, parallel := scanAll(t, counter, cfg)
					if len(parallel.order) != len(serial.order) || len(parallel.byKey) != len(serial.byKey) {
						t.Fatalf("parallel listing gave %d results (%d distinct), one chain %d", len(parallel.order), len(parallel.byKey), len(serial.order))
					}
					for id := range serial.byKey {
						if _, ok := parallel.byKey[id]; !ok {
							t.Fatalf("parallel listing missed %q", id)
						}
					}
					if sum.DeleteMarkers != serialSum.DeleteMarkers {
						t.Errorf("delete markers: %d in parallel, %d with one chain", sum.DeleteMarkers, serialSum.DeleteMarkers)
					}
					if counter.ranges.Load() < 2 {
						t.Errorf("only %d ranges started after a split point: listing was not parallel", counter.ranges.Load())
					}
				})
			}
		})
	}
}

// S3 answers 503 SlowDown beyond its request rate. Through a proxy that
// does the same in front of radosgw (with S3-like latency), the scan must
// check every key, close to the allowed rate, without a storm of retries.
// Not parallel: the rate it measures is what the scan reaches with the
// cores to itself, as far as a test run allows.
func TestIntegrationThrottlingThroughFaultProxy(t *testing.T) {
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	const bucket, objects = "it-throttle-600", 600
	if err := locals3.CreateBucket(ctx, a, bucket); err != nil {
		t.Fatal(err)
	}
	if n, err := locals3.CountObjects(ctx, a, bucket); err != nil || n != objects {
		if err := locals3.PutObjects(ctx, a, bucket, locals3.Keys("t/", objects), nil); err != nil {
			t.Fatal(err)
		}
	}
	// Requests per second: low enough that the scan exceeds it even when
	// other test packages load the same 2 cores (at 300/s, a loaded run
	// reached ~140/s and was never throttled); 50 ms of latency keeps
	// several requests in flight at that rate, as S3's round trips do.
	const limit = 100.0
	proxy, err := faultproxy.Start(env.HTTPURL, faultproxy.Options{Rate: limit, Latency: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	start := time.Now()
	sum, sink := scanAll(t, newClient(t, env, s3access.Options{EndpointURL: proxy.URL}), Config{Bucket: bucket})
	elapsed := time.Since(start)
	if sum.Count(StatusOK) != objects || len(sink.byKey) != objects {
		t.Fatalf("%d ok of %d results, want all %d ok (%+v)", sum.Count(StatusOK), len(sink.byKey), objects, sum.ByStatus)
	}
	if proxy.Throttled() == 0 || sum.Throttles == 0 {
		t.Fatalf("the proxy throttled %d requests, the client saw %d: the test did not exercise throttling", proxy.Throttled(), sum.Throttles)
	}
	rate := float64(proxy.Forwarded()) / elapsed.Seconds()
	retriesPerKey := float64(sum.Retries) / objects
	t.Logf("%.0f req/s forwarded (limit %.0f), %.3f retries per key, %d throttled", rate, limit, retriesPerKey, sum.Throttles)
	// 96-99% alone; 74% once with other test packages and the race
	// detector on the same cores.
	if rate < 0.6*limit {
		t.Errorf("%.0f requests/s forwarded, want at least 60%% of the %0.f allowed", rate, limit)
	}
	// Here aimd measured 0.19 retries per key and 96-99 requests/s
	// (2026-11-30); at 150/s and 20 ms, --throttling off made 0.55 and
	// 61/s against aimd's 0.22 and 147/s.
	if retriesPerKey > 0.35 {
		t.Errorf("%.3f retries per key: a retry storm", retriesPerKey)
	}
}

// An interrupted version scan resumes from its checkpoint on radosgw
// (whose key-marker is inclusive) with every version exactly once.
func TestIntegrationResumeVersions(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	bucket := locals3.NewVersionedBucket(t, env, "resume-versions")
	keys := locals3.Keys("v/", 300)
	for range 2 {
		if err := locals3.PutObjects(ctx, a, bucket, keys, nil); err != nil {
			t.Fatal(err)
		}
	}
	client := newClient(t, env, s3access.Options{})
	var saved *State
	seen := map[string]int{}
	ctx1, cancel := context.WithCancel(ctx)
	cfg := Config{Bucket: bucket, AllVersions: true, PageSize: 20, ListConcurrency: 4, Concurrency: 8,
		Checkpoint: func(st *State) error { saved = st; return nil }}
	_, err := Run(ctx1, client, cfg, SinkFunc(func(r *Result) error {
		if seen[r.Key+"\x00"+r.VersionID]++; len(seen) == 250 {
			cancel()
		}
		return nil
	}), nil)
	if err == nil || saved == nil {
		t.Fatalf("first run: err %v, checkpoint %v", err, saved != nil)
	}
	cfg.Resume = saved
	sum, err := Run(ctx, client, cfg, SinkFunc(func(r *Result) error { seen[r.Key+"\x00"+r.VersionID]++; return nil }), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 600 || sum.Objects != 600 {
		t.Fatalf("%d distinct versions over both runs, summary %d; want 600", len(seen), sum.Objects)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("version %q reported %d times", id, n)
		}
	}
}

// What is actually exposed, on radosgw: a public-read object is
// effective and served to an anonymous request; the same grant under the
// bucket's IgnorePublicAcls is latent, blocked by it, and radosgw indeed
// refuses it to anyone (it answers with the stored ACL, unlike AWS).
func TestIntegrationExposure(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	open, locked := locals3.NewBucket(t, env, "exposed"), locals3.NewBucket(t, env, "locked")
	for _, bucket := range []string{open, locked} {
		if err := locals3.PutObjects(ctx, a, bucket, []string{"public"}, locals3.PublicRead); err != nil {
			t.Fatal(err)
		}
		if err := locals3.PutObjects(ctx, a, bucket, []string{"private"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &locked,
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{IgnorePublicAcls: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	client := newClient(t, env, s3access.Options{})

	sum, sink := scanAll(t, client, Config{Bucket: open, VerifyPublic: true})
	pub, priv := sink.byKey["public\x00"], sink.byKey["private\x00"]
	if !pub.Effective.Has(acl.Public) || pub.Verified != Served || len(pub.BlockedBy) != 0 {
		t.Errorf("exposed object: effective %v, verified %v, blocked by %v; want public, served", pub.Effective.Names(), pub.Verified, pub.BlockedBy)
	}
	if priv.Verified != NotVerified || priv.Effective != 0 {
		t.Errorf("private object: effective %v verified %v; want nothing, not asked", priv.Effective.Names(), priv.Verified)
	}
	if sum.Served != 1 || sum.NotServed != 0 {
		t.Errorf("summary: %d served, %d not", sum.Served, sum.NotServed)
	}
	c := sum.Context
	if !c.BucketBlock.Known || c.BucketBlock.Value.IgnorePublicACLs || !c.PolicyPublic.Known || c.ACLReadsEffective {
		t.Errorf("context of the open bucket: %+v", c)
	}
	if c.Ownership.Known || c.AccountBlock.Known || c.Ownership.Problem == "" || c.AccountBlock.Problem == "" {
		t.Errorf("radosgw has no ownership controls and no S3 Control; want both unknown with a reason: %+v %+v", c.Ownership, c.AccountBlock)
	}
	if sum.Shared != 1 {
		t.Errorf("%d objects share access through their ACLs; want 1 (what the readiness verdict counts)", sum.Shared)
	}

	sum, sink = scanAll(t, client, Config{Bucket: locked, VerifyPublic: true})
	pub = sink.byKey["public\x00"]
	if !pub.Findings.Has(acl.Public) || pub.Effective != 0 || len(pub.BlockedBy) != 1 || pub.BlockedBy[0] != acl.BlockedByBucketIgnorePublicACLs {
		t.Errorf("locked object: findings %v effective %v blocked by %v; want public, latent, bucket:IgnorePublicAcls", pub.Findings.Names(), pub.Effective.Names(), pub.BlockedBy)
	}
	if pub.Verified != NotVerified || sum.Served+sum.NotServed != 0 {
		t.Errorf("a latent object was verified (%v); only effective ones are asked for", pub.Verified)
	}
	if sum.Found(acl.Public) != 1 || sum.FoundEffective(acl.Public) != 0 {
		t.Errorf("locked summary: public %d, effective %d", sum.Found(acl.Public), sum.FoundEffective(acl.Public))
	}
	if served, err := client.ServedAnonymously(ctx, locked, "public", ""); err != nil || served {
		t.Errorf("radosgw served a latent object to anyone (%v, %v): the judgement would be wrong", served, err)
	}
	if notes := strings.Join(sum.Notes(nil), "\n"); !strings.Contains(notes, "IgnorePublicAcls is on (bucket)") {
		t.Errorf("notes: %s", notes)
	}
}
