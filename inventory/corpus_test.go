package inventory_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/inventory"
	"github.com/aclscan/aclscan/inventory/aclfield"
	"github.com/aclscan/aclscan/scan"
)

// AWS's own inventory manifests (S3 User Guide, "Locating your inventory
// list"; testdata/aws/README.md), located and read as `aclscan inventory`
// reads a local report: each format's full field list maps to the
// columns aclscan judges, ORC is refused in one line, and the CSV
// manifest's data file is read at the key it names. AWS publishes no data
// file: the one here is written to the manifest's 20-column schema, so
// the manifest's MD5 cannot match it, and the rows read before the check
// must still arrive.
func TestAWSSampleManifests(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "testdata", "aws", "inventory")
	for _, tc := range []struct {
		file string
		want inventory.Columns
	}{
		{"manifest-csv.json", inventory.Columns{Count: 20, Key: 1, VersionID: 2, IsLatest: 3, DeleteMarker: 4, ACL: 18, Owner: 19}},
		{"manifest-parquet.json", inventory.Columns{Count: 20, Key: 1, VersionID: 2, IsLatest: 3, DeleteMarker: 4, ACL: 18, Owner: 19}},
	} {
		rep, err := inventory.Locate(context.Background(), nil, filepath.Join(dir, tc.file), inventory.LocateOptions{DataDir: t.TempDir()})
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if rep.Manifest.SourceBucket != "amzn-s3-demo-source-bucket" || rep.Manifest.Created().Unix() != 1514944800 {
			t.Errorf("%s: manifest %+v", tc.file, rep.Manifest)
		}
		if got, err := rep.Manifest.Columns(); err != nil || got != tc.want {
			t.Errorf("%s: columns %+v, %v; want %+v", tc.file, got, err, tc.want)
		}
	}

	rep, err := inventory.Locate(context.Background(), nil, filepath.Join(dir, "manifest-orc.json"), inventory.LocateOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var formatErr *inventory.FormatError
	if _, err := rep.Manifest.Columns(); !errors.As(err, &formatErr) || !strings.Contains(err.Error(), "configure the inventory as CSV or Parquet") {
		t.Errorf("ORC: %v; want the one-line advice to configure CSV or Parquet", err)
	}

	// The CSV manifest's data file, at its key under --data-dir.
	data := t.TempDir()
	rep, err = inventory.Locate(context.Background(), nil, filepath.Join(dir, "manifest-csv.json"), inventory.LocateOptions{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	const owner = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"
	public := aclfield.Encode([]acl.Grant{
		{Type: acl.TypeCanonicalUser, ID: owner, Permission: "FULL_CONTROL"},
		{Type: acl.TypeGroup, URI: acl.AllUsersURI, Permission: "READ"},
	}, false)
	var csv bytes.Buffer
	zw := gzip.NewWriter(&csv)
	_, _ = zw.Write([]byte(`"amzn-s3-demo-source-bucket","photos/a+b%2Bc.jpg","3HL4kqtJlcpXroDTDmJ","true","false","434234","2016-11-06T21:32:00.000Z","fba9dede5f27731c9771645a39863328","STANDARD","false","","SSE-S3","","","","","DISABLED","","` + public + `","` + owner + `"` + "\n"))
	_ = zw.Close()
	key := rep.Manifest.Files[0].Key
	if err := os.MkdirAll(filepath.Join(data, filepath.Dir(key)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, key), csv.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cols, _ := rep.Manifest.Columns()
	src, err := inventory.NewSource(rep.Manifest, cols, rep.Open, inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []scan.Object
	err = src.Objects(context.Background(), func(o scan.Object) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, o)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "f11166069f1990abeb9c97ace9cdfabc") {
		t.Errorf("err %v; want the data file named and its MD5 found not to match the manifest's", err)
	}
	if len(got) != 1 || got[0].Key != "photos/a b+c.jpg" || got[0].VersionID != "3HL4kqtJlcpXroDTDmJ" || !got[0].Known ||
		!acl.Classify(owner, got[0].Policy.Owner, got[0].Policy.Grants).Has(acl.Public) {
		t.Errorf("rows read %+v; want the one row, key decoded, judged public", got)
	}
}
