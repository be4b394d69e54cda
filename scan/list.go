package scan

import (
	"context"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// list walks every page of the bucket's listing and calls emit for each
// object (or version). It stops at the first error of the listing or of
// emit. It returns the number of delete markers seen.
func (s *scanner) list(ctx context.Context, emit func(item) error) (int64, error) {
	if s.cfg.AllVersions {
		return s.listVersions(ctx, emit)
	}
	return 0, s.listObjects(ctx, emit)
}

func (s *scanner) listOp() string {
	return fmt.Sprintf("list s3://%s/%s", s.cfg.Bucket, s.cfg.Prefix)
}

func (s *scanner) listObjects(ctx context.Context, emit func(item) error) error {
	in := &s3.ListObjectsV2Input{
		Bucket:  &s.cfg.Bucket,
		MaxKeys: &s.cfg.PageSize,
		// The owner comes with the listing at no extra request and names
		// the owner of an object whose ACL turns out unreadable.
		FetchOwner: aws.Bool(true),
		// Keys may hold characters XML 1.0 cannot carry; URL encoding
		// brings every key back intact.
		EncodingType: types.EncodingTypeUrl,
	}
	if s.cfg.Prefix != "" {
		in.Prefix = &s.cfg.Prefix
	}
	for {
		out, err := s.api.ListObjectsV2(ctx, in)
		if err != nil {
			return &Error{Op: s.listOp(), Err: err}
		}
		decode := out.EncodingType == types.EncodingTypeUrl
		for i := range out.Contents {
			obj := &out.Contents[i]
			key, err := decodeKey(aws.ToString(obj.Key), decode)
			if err != nil {
				return &Error{Op: s.listOp(), Err: err}
			}
			it := item{key: key}
			if obj.Owner != nil {
				it.ownerID = aws.ToString(obj.Owner.ID)
			}
			s.progress.Listed.Add(1)
			if err := emit(it); err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		next := aws.ToString(out.NextContinuationToken)
		if next == "" || next == aws.ToString(in.ContinuationToken) {
			return &Error{Op: s.listOp(), Err: fmt.Errorf("the server said the listing continues but gave no new continuation token")}
		}
		in.ContinuationToken = &next
	}
}

func (s *scanner) listVersions(ctx context.Context, emit func(item) error) (int64, error) {
	in := &s3.ListObjectVersionsInput{
		Bucket:       &s.cfg.Bucket,
		MaxKeys:      &s.cfg.PageSize,
		EncodingType: types.EncodingTypeUrl,
	}
	if s.cfg.Prefix != "" {
		in.Prefix = &s.cfg.Prefix
	}
	var markers int64
	for {
		out, err := s.api.ListObjectVersions(ctx, in)
		if err != nil {
			return markers, &Error{Op: s.listOp() + " (versions)", Err: err}
		}
		decode := out.EncodingType == types.EncodingTypeUrl
		markers += int64(len(out.DeleteMarkers))
		for i := range out.Versions {
			v := &out.Versions[i]
			key, err := decodeKey(aws.ToString(v.Key), decode)
			if err != nil {
				return markers, &Error{Op: s.listOp() + " (versions)", Err: err}
			}
			it := item{key: key, versionID: aws.ToString(v.VersionId), isLatest: aws.ToBool(v.IsLatest)}
			if v.Owner != nil {
				it.ownerID = aws.ToString(v.Owner.ID)
			}
			s.progress.Listed.Add(1)
			if err := emit(it); err != nil {
				return markers, err
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return markers, nil
		}
		nextVersion := aws.ToString(out.NextVersionIdMarker)
		nextKey, err := nextKeyMarker(out, decode)
		if err != nil {
			return markers, &Error{Op: s.listOp() + " (versions)", Err: err}
		}
		if nextKey == "" || (nextKey == aws.ToString(in.KeyMarker) && nextVersion == aws.ToString(in.VersionIdMarker)) {
			return markers, &Error{Op: s.listOp() + " (versions)", Err: fmt.Errorf("the server said the listing continues but gave no new key marker")}
		}
		in.KeyMarker = &nextKey
		in.VersionIdMarker = nil
		if nextVersion != "" {
			in.VersionIdMarker = &nextVersion
		}
	}
}

// nextKeyMarker returns the decoded key to continue a version listing
// from. AWS URL-encodes NextKeyMarker under EncodingType=url; radosgw sends
// it raw. Both name the page's last entry, so the marker is matched against
// that entry's key in either form, and its decoded key is used.
func nextKeyMarker(out *s3.ListObjectVersionsOutput, decode bool) (string, error) {
	marker, version := aws.ToString(out.NextKeyMarker), aws.ToString(out.NextVersionIdMarker)
	if decode {
		match := func(rawKey, versionID *string) (string, bool) {
			if aws.ToString(versionID) != version {
				return "", false
			}
			raw := aws.ToString(rawKey)
			key, err := decodeKey(raw, true)
			if err != nil || (raw != marker && key != marker) {
				return "", false
			}
			return key, true
		}
		if n := len(out.Versions); n > 0 {
			if key, ok := match(out.Versions[n-1].Key, out.Versions[n-1].VersionId); ok {
				return key, nil
			}
		}
		if n := len(out.DeleteMarkers); n > 0 {
			if key, ok := match(out.DeleteMarkers[n-1].Key, out.DeleteMarkers[n-1].VersionId); ok {
				return key, nil
			}
		}
	}
	return decodeKey(marker, decode)
}

// decodeKey undoes EncodingType=url, which S3 applies with form encoding
// (a space may come as '+').
func decodeKey(key string, encoded bool) (string, error) {
	if !encoded {
		return key, nil
	}
	decoded, err := url.QueryUnescape(key)
	if err != nil {
		return "", fmt.Errorf("decode listed key %q: %w", key, err)
	}
	return decoded, nil
}
