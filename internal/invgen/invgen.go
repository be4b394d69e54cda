// Package invgen writes S3 Inventory reports exactly as AWS lays them
// out (manifest.json, manifest.checksum, hive/symlink.txt, data files in
// CSV gzip or Parquet Snappy with AWS's column names and types), for the
// tests, the benchmark and the inventory generator tool: radosgw does not
// generate inventories.
package invgen

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/parquet-go/parquet-go"
)

// Object is one inventory row. ACL is the ObjectAccessControlList value
// (base64 JSON, inventory.EncodeACL); Owner the ObjectOwner value.
type Object struct {
	Key          string
	VersionID    string
	IsLatest     bool
	DeleteMarker bool
	Size         int64
	LastModified time.Time
	ETag         string
	StorageClass string
	ACL          string
	Owner        string
}

// Report says what to write.
type Report struct {
	SourceBucket string
	// DestinationBucket and Prefix are where the report goes:
	// PREFIX/SOURCE/CONFIG/... in DestinationBucket.
	DestinationBucket, Prefix, ConfigID string
	Format                              string // "CSV" or "Parquet"
	// Versioned writes IncludedObjectVersions=All columns.
	Versioned bool
	// NoACL leaves out ObjectAccessControlList and ObjectOwner (a report
	// configured without them).
	NoACL   bool
	Created time.Time
	// FileRows is the most rows per data file (0 = 100,000).
	FileRows int
}

// Put stores one object of the report.
type Put func(key string, body []byte) error

// Base is the report configuration's prefix: PREFIX/SOURCE/CONFIG/.
func (r *Report) Base() string {
	p := r.Prefix
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p + r.SourceBucket + "/" + r.ConfigID + "/"
}

// ManifestKey is where the manifest goes: BASE/YYYY-MM-DDTHH-MMZ/manifest.json.
func (r *Report) ManifestKey() string {
	return r.Base() + r.Created.UTC().Format("2006-01-02T15-04Z") + "/manifest.json"
}

type dataFile struct {
	Key         string `json:"key"`
	Size        int64  `json:"size"`
	MD5Checksum string `json:"MD5checksum"`
}

// Write writes the data files of objects, then the manifest, its
// checksum and the Hive symlink, in that order (as AWS does: the
// checksum last-but-one marks a complete report).
func (r *Report) Write(objects []Object, put Put) error {
	perFile := r.FileRows
	if perFile <= 0 {
		perFile = 100_000
	}
	chunks := max(1, (len(objects)+perFile-1)/perFile)
	return r.WriteChunks(chunks, func(i int) []Object {
		return objects[min(i*perFile, len(objects)):min((i+1)*perFile, len(objects))]
	}, put)
}

// WriteChunks is Write for reports too large to hold: one data file per
// chunk, each made when it is written.
func (r *Report) WriteChunks(chunks int, chunk func(i int) []Object, put Put) error {
	var files []dataFile
	for i := range chunks {
		body, ext, err := r.encode(chunk(i))
		if err != nil {
			return err
		}
		key := r.Base() + "data/" + uuid() + ext
		if err := put(key, body); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		sum := md5.Sum(body)
		files = append(files, dataFile{Key: key, Size: int64(len(body)), MD5Checksum: hex.EncodeToString(sum[:])})
	}
	manifest := map[string]any{
		"sourceBucket":      r.SourceBucket,
		"destinationBucket": "arn:aws:s3:::" + r.DestinationBucket,
		"version":           "2016-11-30",
		"creationTimestamp": strconv.FormatInt(r.Created.UnixMilli(), 10),
		"fileFormat":        r.Format,
		"fileSchema":        r.schema(),
		"files":             files,
	}
	body, err := json.MarshalIndent(manifest, "", "    ")
	if err != nil {
		return err
	}
	if err := put(r.ManifestKey(), body); err != nil {
		return err
	}
	sum := md5.Sum(body)
	if err := put(strings.TrimSuffix(r.ManifestKey(), ".json")+".checksum", []byte(hex.EncodeToString(sum[:])+"\n")); err != nil {
		return err
	}
	var symlink bytes.Buffer
	for _, f := range files {
		fmt.Fprintf(&symlink, "s3://%s/%s\n", r.DestinationBucket, f.Key)
	}
	return put(r.Base()+"hive/dt="+r.Created.UTC().Format("2006-01-02-15-04")+"/symlink.txt", symlink.Bytes())
}

// csvFields are the fileSchema names, in AWS's order.
func (r *Report) csvFields() []string {
	fields := []string{"Bucket", "Key"}
	if r.Versioned {
		fields = append(fields, "VersionId", "IsLatest", "IsDeleteMarker")
	}
	fields = append(fields, "Size", "LastModifiedDate", "ETag", "StorageClass")
	if !r.NoACL {
		fields = append(fields, "ObjectAccessControlList", "ObjectOwner")
	}
	return fields
}

func (r *Report) schema() string {
	if r.Format == "CSV" {
		return strings.Join(r.csvFields(), ", ")
	}
	var b strings.Builder
	b.WriteString("message s3.inventory { required binary bucket (UTF8); required binary key (UTF8);")
	if r.Versioned {
		b.WriteString(" optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker;")
	}
	b.WriteString(" optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); optional binary storage_class (UTF8);")
	if !r.NoACL {
		b.WriteString(" optional binary object_access_control_list (UTF8); optional binary object_owner (UTF8);")
	}
	b.WriteString("}")
	return b.String()
}

func (r *Report) encode(objects []Object) ([]byte, string, error) {
	var buf bytes.Buffer
	switch r.Format {
	case "CSV":
		err := r.writeCSV(&buf, objects)
		return buf.Bytes(), ".csv.gz", err
	case "Parquet":
		err := r.writeParquet(&buf, objects)
		return buf.Bytes(), ".parquet", err
	}
	return nil, "", fmt.Errorf("format %q: want CSV or Parquet", r.Format)
}

// WriteCSV writes rows as AWS does: gzip, no header, every field quoted,
// keys URL-encoded.
func (r *Report) writeCSV(w io.Writer, objects []Object) error {
	gz := gzip.NewWriter(w)
	fields := r.csvFields()
	vals := make([]string, 0, len(fields))
	for i := range objects {
		o := &objects[i]
		vals = append(vals[:0], r.SourceBucket, url.QueryEscape(o.Key))
		if r.Versioned {
			vals = append(vals, o.VersionID, strconv.FormatBool(o.IsLatest), strconv.FormatBool(o.DeleteMarker))
		}
		vals = append(vals, strconv.FormatInt(o.Size, 10), o.LastModified.UTC().Format("2006-01-02T15:04:05.000Z"), o.ETag, o.StorageClass)
		if !r.NoACL {
			vals = append(vals, o.ACL, o.Owner)
		}
		for j, v := range vals {
			if j > 0 {
				io.WriteString(gz, ",")
			}
			io.WriteString(gz, `"`+strings.ReplaceAll(v, `"`, `""`)+`"`)
		}
		io.WriteString(gz, "\n")
	}
	return gz.Close()
}

// The Parquet rows, with AWS's column names and types.
type currentRow struct {
	Bucket       string  `parquet:"bucket"`
	Key          string  `parquet:"key"`
	Size         *int64  `parquet:"size,optional"`
	LastModified *int64  `parquet:"last_modified_date,optional,timestamp(millisecond)"`
	ETag         *string `parquet:"e_tag,optional"`
	StorageClass *string `parquet:"storage_class,optional"`
	ACL          *string `parquet:"object_access_control_list,optional"`
	Owner        *string `parquet:"object_owner,optional"`
}

type versionedRow struct {
	Bucket         string  `parquet:"bucket"`
	Key            string  `parquet:"key"`
	VersionID      *string `parquet:"version_id,optional"`
	IsLatest       *bool   `parquet:"is_latest,optional"`
	IsDeleteMarker *bool   `parquet:"is_delete_marker,optional"`
	Size           *int64  `parquet:"size,optional"`
	LastModified   *int64  `parquet:"last_modified_date,optional,timestamp(millisecond)"`
	ETag           *string `parquet:"e_tag,optional"`
	StorageClass   *string `parquet:"storage_class,optional"`
	ACL            *string `parquet:"object_access_control_list,optional"`
	Owner          *string `parquet:"object_owner,optional"`
}

type noACLRow struct {
	Bucket string `parquet:"bucket"`
	Key    string `parquet:"key"`
	Size   *int64 `parquet:"size,optional"`
}

func (r *Report) writeParquet(w io.Writer, objects []Object) error {
	opts := []parquet.WriterOption{parquet.Compression(&parquet.Snappy)}
	switch {
	case r.NoACL:
		rows := make([]noACLRow, len(objects))
		for i, o := range objects {
			rows[i] = noACLRow{Bucket: r.SourceBucket, Key: o.Key, Size: &objects[i].Size}
		}
		return writeRows(w, rows, opts)
	case r.Versioned:
		rows := make([]versionedRow, len(objects))
		for i := range objects {
			o := &objects[i]
			ms := o.LastModified.UnixMilli()
			rows[i] = versionedRow{Bucket: r.SourceBucket, Key: o.Key, VersionID: &o.VersionID, IsLatest: &o.IsLatest, IsDeleteMarker: &o.DeleteMarker,
				Size: &o.Size, LastModified: &ms, ETag: &o.ETag, StorageClass: &o.StorageClass, ACL: nilIfEmpty(&o.ACL), Owner: nilIfEmpty(&o.Owner)}
		}
		return writeRows(w, rows, opts)
	}
	rows := make([]currentRow, len(objects))
	for i := range objects {
		o := &objects[i]
		ms := o.LastModified.UnixMilli()
		rows[i] = currentRow{Bucket: r.SourceBucket, Key: o.Key, Size: &o.Size, LastModified: &ms, ETag: &o.ETag, StorageClass: &o.StorageClass, ACL: &o.ACL, Owner: &o.Owner}
	}
	return writeRows(w, rows, opts)
}

func nilIfEmpty(s *string) *string {
	if *s == "" {
		return nil
	}
	return s
}

func writeRows[T any](w io.Writer, rows []T, opts []parquet.WriterOption) error {
	pw := parquet.NewGenericWriter[T](w, opts...)
	if _, err := pw.Write(rows); err != nil {
		return err
	}
	return pw.Close()
}

func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
