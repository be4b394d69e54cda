package inventory_test

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/internal/invgen"
	"github.com/aclscan/aclscan/inventory"
	"github.com/aclscan/aclscan/inventory/aclfield"
	"github.com/aclscan/aclscan/scan"
)

// The documented examples (storage-inventory.html, objectacl.html).
func TestDecodeACLDocumentedExamples(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, value string
		want        []acl.Grant
		err         error
	}{
		{"the base64 sample", "eyJ2ZXJzaW9uIjoiMjAyMi0xMS0xMCIsInN0YXR1cyI6IkFWQUlMQUJMRSIsImdyYW50cyI6W3siY2Fub25pY2FsSWQiOiJleGFtcGxlLWNhbm9uaWNhbC11c2VyLUlEIiwidHlwZSI6IkNhbm9uaWNhbFVzZXIiLCJwZXJtaXNzaW9uIjoiUkVBRCJ9XX0=",
			[]acl.Grant{{Type: "CanonicalUser", ID: "example-canonical-user-ID", Permission: "READ"}}, nil},
		// The sample report rows put the keys in another order.
		{"keys in another order", b64(`{"version":"2022-11-10","status":"AVAILABLE","grants":[{"permission":"FULL_CONTROL","type":"CanonicalUser","canonicalId":"EXAMPLE766e8f"}]}`),
			[]acl.Grant{{Type: "CanonicalUser", ID: "EXAMPLE766e8f", Permission: "FULL_CONTROL"}}, nil},
		{"the pretty-printed example", b64(`{
    "version": "2022-11-10",
    "status": "AVAILABLE",
    "grants": [{"uri": "http://acs.amazonaws.com/groups/global/AllUsers", "permission": "READ", "type": "Group"},
               {"canonicalId": "example-canonical-id", "permission": "FULL_CONTROL", "type": "CanonicalUser"}]
}`), []acl.Grant{{Type: "Group", URI: acl.AllUsersURI, Permission: "READ"}, {Type: "CanonicalUser", ID: "example-canonical-id", Permission: "FULL_CONTROL"}}, nil},
		{"unavailable", b64(`{"version":"2022-11-10","status":"UNAVAILABLE"}`), nil, aclfield.ErrUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := aclfield.Decode(tc.value)
			if !errors.Is(err, tc.err) || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("DecodeACL = %+v, %v; want %+v, %v", got, err, tc.want, tc.err)
			}
		})
	}
	for _, bad := range []string{"not base64!", b64("not json"), b64(`{"status":"MAYBE"}`)} {
		if _, err := aclfield.Decode(bad); err == nil || errors.Is(err, aclfield.ErrUnavailable) {
			t.Errorf("DecodeACL(%q) = %v; want an error", bad, err)
		}
	}
}

func b64(s string) string { return base64Std(s) }

func TestManifestColumns(t *testing.T) {
	t.Parallel()
	csvManifest := func(schema string) *inventory.Manifest {
		return &inventory.Manifest{SourceBucket: "b", FileFormat: "CSV", FileSchema: schema}
	}
	// The documented CSV schema: every field, ACL and owner last.
	c, err := csvManifest("Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, ReplicationStatus, EncryptionStatus, ObjectLockRetainUntilDate, ObjectLockMode, ObjectLockLegalHoldStatus, IntelligentTieringAccessTier, BucketKeyStatus, ChecksumAlgorithm, ObjectAccessControlList, ObjectOwner").Columns()
	if err != nil || c.Count != 20 || c.Key != 1 || c.VersionID != 2 || c.IsLatest != 3 || c.DeleteMarker != 4 || c.ACL != 18 || c.Owner != 19 {
		t.Errorf("documented CSV schema: %+v, %v", c, err)
	}
	// Another set and order.
	c, err = csvManifest("Bucket,ObjectOwner,Key,Size,ObjectAccessControlList").Columns()
	if err != nil || c.Count != 5 || c.Key != 2 || c.Owner != 1 || c.ACL != 4 || c.VersionID != -1 {
		t.Errorf("reordered CSV schema: %+v, %v", c, err)
	}
	// The documented Parquet schema.
	p := &inventory.Manifest{SourceBucket: "b", FileFormat: "Parquet", FileSchema: "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); optional binary storage_class (UTF8); optional boolean is_multipart_uploaded; optional binary replication_status (UTF8); optional binary encryption_status (UTF8); optional int64 object_lock_retain_until_date (TIMESTAMP_MILLIS); optional binary object_lock_mode (UTF8); optional binary object_lock_legal_hold_status (UTF8); optional binary intelligent_tiering_access_tier (UTF8); optional binary bucket_key_status (UTF8); optional binary checksum_algorithm (UTF8); optional binary object_access_control_list (UTF8); optional binary object_owner (UTF8);}"}
	if c, err := p.Columns(); err != nil || c.Key != 1 || c.ACL != 18 || c.Owner != 19 || c.VersionID != 2 {
		t.Errorf("documented Parquet schema: %+v, %v", c, err)
	}
	var missing *inventory.MissingFieldsError
	if _, err := csvManifest("Bucket, Key, Size").Columns(); !errors.As(err, &missing) || !strings.Contains(err.Error(), "add ObjectOwner and ObjectAccessControlList to the inventory configuration") {
		t.Errorf("a report without the fields: %v", err)
	}
	orc := &inventory.Manifest{SourceBucket: "b", FileFormat: "ORC", FileSchema: "struct<bucket:string,key:string>"}
	if _, err := orc.Columns(); err == nil || !strings.Contains(err.Error(), "configure the inventory as CSV or Parquet") {
		t.Errorf("ORC: %v", err)
	}
}

func TestManifestChecksum(t *testing.T) {
	t.Parallel()
	body := []byte(`{"sourceBucket":"b","fileFormat":"CSV","fileSchema":"Bucket, Key","files":[]}`)
	if _, err := inventory.ParseManifest(body, []byte(md5Hex(body)+"\n")); err != nil {
		t.Errorf("a matching checksum: %v", err)
	}
	if _, err := inventory.ParseManifest(append(body, ' '), []byte(md5Hex(body))); err == nil || !strings.Contains(err.Error(), "does not match manifest.checksum") {
		t.Errorf("a changed manifest: %v", err)
	}
}

// rows makes a bucket's worth of inventory rows: private, public,
// shared, foreign-owned, unavailable; keys that need decoding.
func rows(n int, versioned bool) []invgen.Object {
	private := aclfield.Encode([]acl.Grant{{Type: "CanonicalUser", ID: "owner", Permission: "FULL_CONTROL"}}, false)
	public := aclfield.Encode([]acl.Grant{{Type: "CanonicalUser", ID: "owner", Permission: "FULL_CONTROL"}, {Type: "Group", URI: acl.AllUsersURI, Permission: "READ"}}, false)
	shared := aclfield.Encode([]acl.Grant{{Type: "CanonicalUser", ID: "owner", Permission: "FULL_CONTROL"}, {Type: "CanonicalUser", ID: "partner", Permission: "READ"}}, false)
	unavailable := aclfield.Encode(nil, true)
	keys := []string{"a b/c+d.txt", "ünïcødé/%41", "plain/key", "comma,\"quote\"", "tab\there"}
	var out []invgen.Object
	for i := range n {
		o := invgen.Object{Key: fmt.Sprintf("%s-%05d", keys[i%len(keys)], i), Size: int64(i), LastModified: time.Unix(1700000000, 0), ETag: "e", StorageClass: "STANDARD", ACL: private, Owner: "owner"}
		switch i % 10 {
		case 1:
			o.ACL = public
		case 2:
			o.ACL = shared
		case 3:
			o.Owner = "stranger"
		case 4:
			o.ACL, o.Owner = unavailable, "UNAVAILABLE"
		}
		if versioned {
			o.VersionID, o.IsLatest = fmt.Sprintf("v%d", i), i%3 != 0
			if i%10 == 7 {
				o.DeleteMarker, o.ACL, o.Owner = true, "", ""
			}
		}
		out = append(out, o)
	}
	return out
}

// localReport writes a report into dir and returns its manifest, columns
// and an opener of its data files.
func localReport(t *testing.T, format string, objects []invgen.Object, versioned bool) (*inventory.Manifest, inventory.Columns, inventory.Opener, string) {
	t.Helper()
	dir := t.TempDir()
	r := invgen.Report{SourceBucket: "src", DestinationBucket: "dst", Prefix: "inv", ConfigID: "all", Format: format, Versioned: versioned,
		Created: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), FileRows: 333}
	put := func(key string, body []byte) error {
		path := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		return os.WriteFile(path, body, 0o644)
	}
	if err := r.Write(objects, put); err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile(filepath.Join(dir, r.ManifestKey()))
	sum, _ := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(r.ManifestKey(), ".json")+".checksum"))
	m, err := inventory.ParseManifest(body, sum)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := m.Columns()
	if err != nil {
		t.Fatal(err)
	}
	open := func(_ context.Context, key string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, filepath.FromSlash(key)))
	}
	return m, cols, open, dir
}

// collect keeps every result by key and version.
type collect struct {
	mu      sync.Mutex
	results map[string]scan.Result
	fail    int // fail the write after this many results (0: never)
}

func (c *collect) Write(r *scan.Result) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.results == nil {
		c.results = map[string]scan.Result{}
	}
	if c.fail > 0 && len(c.results) >= c.fail {
		return errors.New("disk full")
	}
	id := r.Key + "\x00" + r.VersionID
	if _, dup := c.results[id]; dup {
		return fmt.Errorf("%q reported twice", r.Key)
	}
	res := *r
	res.Grants = append([]acl.Grant(nil), r.Grants...)
	c.results[id] = res
	return nil
}

// noRequests is an API that fails the test if anything is asked of it
// beyond the bucket's context.
type noRequests struct{ scan.API }

func run(t *testing.T, src scan.Source, versioned bool, sink scan.Sink, cfg scan.Config) (*scan.Summary, error) {
	t.Helper()
	cfg.Bucket, cfg.Source, cfg.Resolver, cfg.AllVersions = "src", src, scan.Given(), versioned
	cfg.SourceName, cfg.ReportDate = "inventory", "2026-12-01T00-00Z"
	cfg.Context = &acl.BucketContext{Owner: "owner", Policy: acl.Read(""), ACL: acl.Read([]acl.Grant(nil))}
	return scan.Run(context.Background(), noRequests{}, cfg, sink, nil)
}

// Every row of every data file becomes exactly one result, in CSV and
// Parquet, current and versioned: keys decoded, ACLs judged, UNAVAILABLE
// rows unavailable, delete markers counted.
func TestReportRowsExactlyOnce(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"CSV", "Parquet"} {
		for _, versioned := range []bool{false, true} {
			// The command judges rows where they are read (Inline); the
			// engine's pool must give the same.
			inline := versioned
			t.Run(fmt.Sprintf("%s/versioned=%v/inline=%v", format, versioned, inline), func(t *testing.T) {
				t.Parallel()
				objects := rows(1000, versioned)
				m, cols, open, _ := localReport(t, format, objects, versioned)
				if len(m.Files) != 4 {
					t.Fatalf("%d data files, want 4 (333 rows each)", len(m.Files))
				}
				src, err := inventory.NewSource(m, cols, open, inventory.Options{Parallel: 3})
				if err != nil {
					t.Fatal(err)
				}
				var sink collect
				sum, err := run(t, src, versioned, &sink, scan.Config{Inline: inline})
				if err != nil {
					t.Fatal(err)
				}
				markers := 0
				for i, o := range objects {
					if o.DeleteMarker {
						markers++
						continue
					}
					r, ok := sink.results[o.Key+"\x00"+o.VersionID]
					if !ok {
						t.Fatalf("row %d (%q) has no result", i, o.Key)
					}
					want := map[int]string{1: "public", 2: "cross-account", 3: "foreign-owner", 4: "unreadable"}[i%10]
					if got := strings.Join(r.Findings.Names(), ","); got != want {
						t.Errorf("row %d %q: findings %q, want %q", i, o.Key, got, want)
					}
					if (i%10 == 4) != (r.Status == scan.StatusUnavailable) || r.Source != "inventory" || r.ReportDate == "" {
						t.Errorf("row %d: status %v source %q date %q", i, r.Status, r.Source, r.ReportDate)
					}
					if versioned && (r.IsLatest != o.IsLatest || !r.Versioned) {
						t.Errorf("row %d: is_latest %v, want %v", i, r.IsLatest, o.IsLatest)
					}
				}
				if len(sink.results) != len(objects)-markers || sum.Objects != int64(len(objects)-markers) || sum.DeleteMarkers != int64(markers) || !sum.Complete {
					t.Errorf("%d results, summary %d objects and %d delete markers; want %d and %d", len(sink.results), sum.Objects, sum.DeleteMarkers, len(objects)-markers, markers)
				}
			})
		}
	}
}

// A data file whose bytes do not match the manifest's MD5 stops the run,
// naming the file.
func TestCorruptDataFileIsNamed(t *testing.T) {
	t.Parallel()
	m, cols, open, dir := localReport(t, "CSV", rows(700, false), false)
	bad := m.Files[1].Key
	path := filepath.Join(dir, filepath.FromSlash(bad))
	body, _ := os.ReadFile(path)
	if err := os.WriteFile(path, body[:len(body)-10], 0o644); err != nil { // truncated
		t.Fatal(err)
	}
	src, _ := inventory.NewSource(m, cols, open, inventory.Options{})
	var sink collect
	sum, err := run(t, src, false, &sink, scan.Config{})
	if err == nil || !strings.Contains(err.Error(), bad) || sum.Complete {
		t.Errorf("err %v, complete %v; want an error naming %s", err, sum.Complete, bad)
	}
}

// A run stopped by its sink resumes from the checkpoint's position: the
// rows the checkpoint counts plus the resumed run's are every row once.
func TestResumeFromPosition(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"CSV", "Parquet"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			objects := rows(2000, true)
			m, cols, open, _ := localReport(t, format, objects, true)
			src, _ := inventory.NewSource(m, cols, open, inventory.Options{Parallel: 2})
			first := &collect{fail: 900}
			var saved *scan.State
			var kept map[string]scan.Result
			cfg := scan.Config{Inline: format == "CSV", CheckpointInterval: time.Nanosecond, Checkpoint: func(st *scan.State) error {
				saved = st
				kept = map[string]scan.Result{}
				for k, v := range first.results {
					kept[k] = v
				}
				return nil
			}}
			if _, err := run(t, src, true, first, cfg); err == nil || saved == nil {
				t.Fatalf("the first run: %v, checkpoint %v; want the sink's failure and a checkpoint", err, saved != nil)
			}
			if len(kept) == 0 || len(kept) > 900 {
				t.Fatalf("the checkpoint counts %d records; want some of the 900 written", len(kept))
			}
			src2, err := inventory.NewSource(m, cols, open, inventory.Options{Resume: saved.Source})
			if err != nil {
				t.Fatal(err)
			}
			second := &collect{}
			sum, err := run(t, src2, true, second, scan.Config{Resume: saved})
			if err != nil {
				t.Fatal(err)
			}
			markers := 0
			for _, o := range objects {
				if o.DeleteMarker {
					markers++
					continue
				}
				id := o.Key + "\x00" + o.VersionID
				_, a := kept[id]
				_, b := second.results[id]
				if a == b {
					t.Fatalf("%q: in the first run's checkpointed records %v, in the resumed run %v; want exactly one", o.Key, a, b)
				}
			}
			if sum.Objects != int64(len(objects)-markers) || sum.DeleteMarkers != int64(markers) {
				t.Errorf("resumed summary: %d objects, %d markers; want %d, %d", sum.Objects, sum.DeleteMarkers, len(objects)-markers, markers)
			}
		})
	}
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// A manifest is a file anyone who may write its folder can change: its
// data files must be in the bucket named, or an allowed one, and their
// keys may not climb out of the report's folders. Destination ARNs of
// every partition are read.
func TestManifestIsNotTakenOnTrust(t *testing.T) {
	manifest := func(dest, key string) string {
		return `{"sourceBucket":"src","destinationBucket":"` + dest + `","fileFormat":"CSV","fileSchema":"Bucket, Key","files":[{"key":"` + key + `","size":1,"MD5checksum":"x"}]}`
	}
	for _, key := range []string{"../../etc/passwd", "inv/../../x", "/abs"} {
		if _, err := inventory.ParseManifest([]byte(manifest("arn:aws:s3:::dest", key)), nil); err == nil || !strings.Contains(err.Error(), "climbs out") {
			t.Errorf("key %q: %v", key, err)
		}
	}
	for arn, want := range map[string]string{"arn:aws:s3:::dest": "dest", "arn:aws-cn:s3:::dest-cn": "dest-cn", "arn:aws-us-gov:s3:::gov": "gov"} {
		m, err := inventory.ParseManifest([]byte(manifest(arn, "inv/data/a.csv.gz")), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := m.Destination(); got != want || err != nil {
			t.Errorf("%s: destination %q, %v", arn, got, err)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "manifest.json")
	if err := os.WriteFile(path, []byte(manifest("arn:aws:s3:::someone-elses", "inv/data/a.csv.gz")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := inventory.Locate(context.Background(), nil, path, inventory.LocateOptions{}); err == nil || !strings.Contains(err.Error(), "--allow-data-bucket someone-elses") {
		t.Errorf("a local manifest sending aclscan to another bucket: %v", err)
	}
	if _, err := inventory.Locate(context.Background(), nil, path, inventory.LocateOptions{AllowDataBuckets: []string{"someone-elses"}}); err != nil {
		t.Errorf("allowed: %v", err)
	}
	if _, err := inventory.Locate(context.Background(), nil, path, inventory.LocateOptions{DataDir: dir}); err != nil {
		t.Errorf("with --data-dir: %v", err)
	}
}
