// Package inventory reads Amazon S3 Inventory reports (manifest.json, its
// checksum, and the CSV or Parquet data files it lists) as a source of
// objects whose ACLs are already known: the ObjectOwner and
// ObjectAccessControlList fields. No request is sent per object.
package inventory

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aclscan/aclscan/inventory/aclfield"
)

// Manifest is an inventory report's manifest.json.
type Manifest struct {
	SourceBucket string `json:"sourceBucket"`
	// DestinationBucket is an ARN (arn:aws:s3:::bucket).
	DestinationBucket string `json:"destinationBucket"`
	Version           string `json:"version"`
	// CreationTimestamp is milliseconds since the epoch, as a string.
	CreationTimestamp string     `json:"creationTimestamp"`
	FileFormat        string     `json:"fileFormat"`
	FileSchema        string     `json:"fileSchema"`
	Files             []DataFile `json:"files"`
}

// DataFile is one data file of a report.
type DataFile struct {
	Key         string `json:"key"`
	Size        int64  `json:"size"`
	MD5Checksum string `json:"MD5checksum"`
}

// Formats aclscan reads.
const (
	FormatCSV     = "CSV"
	FormatParquet = "Parquet"
	FormatORC     = "ORC"
)

// ParseManifest reads manifest.json and checks it against the content of
// manifest.checksum (the MD5 of manifest.json, in hex; nil skips the
// check, for a manifest given without its checksum).
func ParseManifest(data, checksum []byte) (*Manifest, error) {
	if checksum != nil {
		want := strings.ToLower(string(bytes.TrimSpace(checksum)))
		sum := md5.Sum(data)
		if got := hex.EncodeToString(sum[:]); got != want {
			return nil, fmt.Errorf("manifest.json does not match manifest.checksum (MD5 %s, checksum says %q): the report is incomplete or was changed", got, want)
		}
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest.json is not an S3 Inventory manifest: %v", err)
	}
	switch {
	case m.SourceBucket == "":
		return nil, fmt.Errorf("manifest.json names no sourceBucket: not an S3 Inventory manifest")
	case m.FileSchema == "":
		return nil, fmt.Errorf("manifest.json has no fileSchema: not an S3 Inventory manifest")
	}
	for i, f := range m.Files {
		if f.Key == "" {
			return nil, fmt.Errorf("manifest.json: file %d has no key", i+1)
		}
		if strings.HasPrefix(f.Key, "/") || slices.Contains(strings.Split(f.Key, "/"), "..") {
			return nil, fmt.Errorf("manifest.json: file %d's key %q climbs out of the report's folders (/ or ..): refused", i+1, f.Key)
		}
	}
	return &m, nil
}

// Created is when the report's generation began scanning the bucket.
func (m *Manifest) Created() time.Time {
	ms, err := strconv.ParseInt(m.CreationTimestamp, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// Destination is the bucket holding the data files: the name in the
// destinationBucket ARN, in any partition (arn:aws:s3:::, arn:aws-cn:s3:::,
// arn:aws-us-gov:s3:::).
func (m *Manifest) Destination() (string, error) {
	arn := m.DestinationBucket
	for _, partition := range []string{"aws", "aws-cn", "aws-us-gov"} {
		if name, ok := strings.CutPrefix(arn, "arn:"+partition+":s3:::"); ok && name != "" && !strings.ContainsAny(name, "/:") {
			return name, nil
		}
	}
	return "", fmt.Errorf("manifest.json: destinationBucket %q is not an S3 bucket ARN (arn:aws:s3:::BUCKET)", arn)
}

// Column indexes (CSV) or names (Parquet) of the fields aclscan reads.
type Columns struct {
	// Count is the number of columns of a CSV row.
	Count int
	// Key, VersionID, IsLatest, DeleteMarker, ACL and Owner are CSV
	// positions, -1 when the report lacks the field.
	Key, VersionID, IsLatest, DeleteMarker, ACL, Owner int
}

// csvNames are the fileSchema names of the fields read; parquetNames
// their Parquet (and ORC) column names.
var (
	csvNames     = [...]string{"Key", "VersionId", "IsLatest", "IsDeleteMarker", "ObjectAccessControlList", "ObjectOwner"}
	parquetNames = [...]string{"key", "version_id", "is_latest", "is_delete_marker", "object_access_control_list", "object_owner"}
)

// MissingFieldsError is a report without the fields aclscan judges.
type MissingFieldsError = aclfield.MissingFieldsError

// FormatError is a report in a format aclscan does not read.
type FormatError struct{ Msg string }

func (e *FormatError) Error() string { return e.Msg }

// Columns maps the fields aclscan reads from fileSchema, whatever set and
// order of fields the configuration chose.
func (m *Manifest) Columns() (Columns, error) {
	var names []string
	switch m.FileFormat {
	case FormatCSV:
		for _, n := range strings.Split(m.FileSchema, ",") {
			names = append(names, strings.TrimSpace(n))
		}
	case FormatParquet:
		// message s3.inventory { required binary bucket (UTF8); ... }
		body := m.FileSchema[strings.IndexByte(m.FileSchema, '{')+1:]
		for _, field := range strings.Split(strings.TrimSuffix(strings.TrimSpace(body), "}"), ";") {
			if parts := strings.Fields(field); len(parts) >= 3 {
				names = append(names, parts[2])
			}
		}
	case FormatORC:
		return Columns{}, &FormatError{"the inventory report is ORC, which aclscan cannot read: no maintained pure-Go ORC reader exists (the one there is, scritchley/orc, has not changed since 2021); configure the inventory as CSV or Parquet"}
	default:
		return Columns{}, &FormatError{fmt.Sprintf("the inventory report's fileFormat %q is not CSV, Parquet or ORC", m.FileFormat)}
	}
	want := csvNames[:]
	if m.FileFormat == FormatParquet {
		want = parquetNames[:]
	}
	pos := [len(csvNames)]int{-1, -1, -1, -1, -1, -1}
	for i, n := range names {
		for j, w := range want {
			if strings.EqualFold(n, w) {
				pos[j] = i
			}
		}
	}
	c := Columns{Count: len(names), Key: pos[0], VersionID: pos[1], IsLatest: pos[2], DeleteMarker: pos[3], ACL: pos[4], Owner: pos[5]}
	if c.Key < 0 {
		return c, fmt.Errorf("the inventory report's fileSchema has no Key field: not an S3 Inventory report")
	}
	var missing []string
	if c.ACL < 0 {
		missing = append(missing, csvNames[4])
	}
	if c.Owner < 0 {
		missing = append(missing, csvNames[5])
	}
	if len(missing) > 0 {
		return c, &MissingFieldsError{Fields: missing}
	}
	return c, nil
}
