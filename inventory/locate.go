package inventory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Report is a located report: its manifest, where it was found, and how
// to open its data files.
type Report struct {
	Manifest *Manifest
	// Location is the manifest's s3:// URL or path.
	Location string
	// Checked is false when the manifest came without its checksum.
	Checked bool
	Open    Opener
}

// S3 is what locating and reading a report needs of an S3 client.
type S3 interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// LocateOptions say where a report's data files may be read from.
type LocateOptions struct {
	// DataDir, when set, holds the data files (a report copied locally).
	DataDir string
	// AllowDataBuckets are buckets besides the one the location names
	// that a manifest may send aclscan to for its data files.
	AllowDataBuckets []string
	// ExpectedBucketOwner, when set, is sent on every read (the report's
	// bucket must belong to that account).
	ExpectedBucketOwner string
}

// Locate finds the report a user names: s3://BUCKET/KEY/manifest.json,
// a local manifest.json, or a configuration's destination prefix
// (s3://DEST/PREFIX/SOURCE/CONFIG/), whose newest complete report (one
// with its manifest.checksum) is taken. Data files come from the
// destination bucket, or from opts.DataDir when it is set. A manifest is
// a file anyone with write access to its folder can change: its
// destination bucket must be the one the location names, or one
// allowed, or aclscan would read (and report on) another bucket's files.
func Locate(ctx context.Context, client S3, location string, opts LocateOptions) (*Report, error) {
	rep := &Report{Location: location}
	named := ""
	var owner *string
	if opts.ExpectedBucketOwner != "" {
		owner = &opts.ExpectedBucketOwner
	}
	if !strings.HasPrefix(location, "s3://") {
		data, err := os.ReadFile(location)
		if err != nil {
			return nil, fmt.Errorf("read the manifest: %w", err)
		}
		checksum, err := os.ReadFile(filepath.Join(filepath.Dir(location), "manifest.checksum"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read manifest.checksum: %w", err)
		}
		if rep.Manifest, err = ParseManifest(data, checksum); err != nil {
			return nil, err
		}
		rep.Checked = checksum != nil
	} else {
		bucket, key, _ := strings.Cut(strings.TrimPrefix(location, "s3://"), "/")
		named = bucket
		if bucket == "" {
			return nil, fmt.Errorf("%q names no bucket: give s3://BUCKET/KEY/manifest.json or s3://DEST/PREFIX/SOURCE-BUCKET/CONFIG-ID/", location)
		}
		if !strings.HasSuffix(key, "manifest.json") {
			var err error
			if key, err = newestReport(ctx, client, bucket, key, owner); err != nil {
				return nil, err
			}
			rep.Location = "s3://" + bucket + "/" + key
		}
		data, err := get(ctx, client, bucket, key, owner)
		if err != nil {
			return nil, fmt.Errorf("read the manifest s3://%s/%s: %w", bucket, key, err)
		}
		checksum, err := get(ctx, client, bucket, strings.TrimSuffix(key, ".json")+".checksum", owner)
		if isNoSuchKey(err) {
			return nil, fmt.Errorf("s3://%s/%s has no manifest.checksum beside it: the report is not complete yet (S3 writes the checksum last)", bucket, key)
		}
		if err != nil {
			return nil, fmt.Errorf("read manifest.checksum: %w", err)
		}
		if rep.Manifest, err = ParseManifest(data, checksum); err != nil {
			return nil, err
		}
		rep.Checked = true
	}
	if opts.DataDir != "" {
		rep.Open = dirOpener(opts.DataDir)
		return rep, nil
	}
	dest, err := rep.Manifest.Destination()
	if err != nil {
		return nil, err
	}
	if dest != named && !slices.Contains(opts.AllowDataBuckets, dest) {
		where := "the bucket named (" + named + ")"
		if named == "" {
			where = "no bucket named (a local manifest)"
		}
		return nil, fmt.Errorf("the manifest sends aclscan to bucket %q for its data files, not %s: give --allow-data-bucket %s if it is yours, or --data-dir", dest, where, dest)
	}
	rep.Open = s3Opener(client, dest, owner)
	return rep, nil
}

// newestReport finds the newest report under a configuration's prefix
// that has its manifest.checksum.
func newestReport(ctx context.Context, client S3, bucket, prefix string, owner *string) (string, error) {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	var dates []string
	in := &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix, Delimiter: aws.String("/"), ExpectedBucketOwner: owner}
	for {
		out, err := client.ListObjectsV2(ctx, in)
		if err != nil {
			return "", fmt.Errorf("list the reports under s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, p := range out.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(p.Prefix), prefix), "/")
			// Report folders are named YYYY-MM-DDTHH-MMZ; data/ and hive/ are not.
			if len(name) == len("2006-01-02T15-04Z") && strings.HasSuffix(name, "Z") && name[10] == 'T' {
				dates = append(dates, name)
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	sort.Sort(sort.Reverse(sort.StringSlice(dates)))
	for _, d := range dates {
		_, err := get(ctx, client, bucket, prefix+d+"/manifest.checksum", owner)
		if err == nil {
			return prefix + d + "/manifest.json", nil
		}
		if !isNoSuchKey(err) {
			return "", fmt.Errorf("read s3://%s/%s%s/manifest.checksum: %w", bucket, prefix, d, err)
		}
	}
	if len(dates) > 0 {
		return "", fmt.Errorf("no complete inventory report under s3://%s/%s: %d reports, none with its manifest.checksum yet", bucket, prefix, len(dates))
	}
	return "", fmt.Errorf("no inventory report under s3://%s/%s: give s3://DEST/PREFIX/SOURCE-BUCKET/CONFIG-ID/ (the folder that holds the YYYY-MM-DDTHH-MMZ report folders) or a manifest.json", bucket, prefix)
}

func get(ctx context.Context, client S3, bucket, key string, owner *string) ([]byte, error) {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key, ExpectedBucketOwner: owner})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(io.LimitReader(out.Body, 64<<20))
}

func isNoSuchKey(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode() == "NoSuchKey" || apiErr.ErrorCode() == "NotFound")
}

func s3Opener(client S3, bucket string, owner *string) Opener {
	return func(ctx context.Context, key string) (io.ReadCloser, error) {
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key, ExpectedBucketOwner: owner})
		if err != nil {
			return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
		}
		return out.Body, nil
	}
}

// dirOpener reads data files from a local folder: at their key below it,
// or by their file name (a report copied flat).
func dirOpener(dir string) Opener {
	return func(_ context.Context, key string) (io.ReadCloser, error) {
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(key)))
		if errors.Is(err, os.ErrNotExist) {
			f, err = os.Open(filepath.Join(dir, filepath.Base(key)))
		}
		return f, err
	}
}
