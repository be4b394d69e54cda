package s3access

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// ListRequest asks for one page of a bucket's listing: its objects
// (ListObjectsV2) or, with Versions, its versions and delete markers
// (ListObjectVersions). Both come back in one shape, ListPage, so one
// loop serves both kinds of listing.
type ListRequest struct {
	Bucket   string
	Prefix   string
	Versions bool
	// MaxKeys bounds the entries of the page (0: the server's default, 1,000).
	MaxKeys int32
	// StartAfter is the key the listing starts after ("" from the start).
	StartAfter string
	// Next continues a listing: the previous page's ListPage.Next.
	Next PageMarker
}

// PageMarker is where a listing continues. It is opaque to callers: pass
// the previous page's to the next request.
type PageMarker struct {
	ContinuationToken string // ListObjectsV2
	Key, VersionID    string // ListObjectVersions (key decoded)
}

// ListEntry is one listed object or version, its key decoded.
type ListEntry struct {
	Key          string
	VersionID    string // versions only
	OwnerID      string // from the listing ("" when the server leaves it out)
	IsLatest     bool   // versions only
	DeleteMarker bool
}

// ListPage is one page of a listing, in key order (the versions and delete
// markers S3 sends in two lists are merged).
type ListPage struct {
	Entries   []ListEntry
	Truncated bool
	// Next is where the listing continues when Truncated. A server may
	// give none, or the one it was asked with; the caller must not loop.
	Next PageMarker
}

// ListPage lists one page. Keys are asked for URL-encoded (they may hold
// characters XML 1.0 cannot carry) and returned decoded; the differences
// of servers in encoding markers are handled here (see nextKeyMarker).
func (c *Client) ListPage(ctx context.Context, req *ListRequest) (*ListPage, error) {
	if req.Versions {
		return c.listVersionsPage(ctx, req)
	}
	in := &s3.ListObjectsV2Input{
		Bucket: &req.Bucket,
		// The owner comes with the listing at no extra request and names
		// the owner of an object whose ACL turns out unreadable.
		FetchOwner:   aws.Bool(true),
		EncodingType: types.EncodingTypeUrl,
	}
	if req.MaxKeys > 0 {
		in.MaxKeys = &req.MaxKeys
	}
	setIfAny(&in.Prefix, req.Prefix)
	setIfAny(&in.StartAfter, req.StartAfter)
	setIfAny(&in.ContinuationToken, req.Next.ContinuationToken)
	out, err := c.listObjectsV2(ctx, in)
	if err != nil {
		return nil, err
	}
	return objectsPage(out, req)
}

func (c *Client) listVersionsPage(ctx context.Context, req *ListRequest) (*ListPage, error) {
	in := &s3.ListObjectVersionsInput{Bucket: &req.Bucket, EncodingType: types.EncodingTypeUrl}
	if req.MaxKeys > 0 {
		in.MaxKeys = &req.MaxKeys
	}
	setIfAny(&in.Prefix, req.Prefix)
	setIfAny(&in.KeyMarker, req.StartAfter)
	if req.Next.Key != "" {
		in.KeyMarker = &req.Next.Key
		setIfAny(&in.VersionIdMarker, req.Next.VersionID)
	}
	out, err := c.listObjectVersions(ctx, in)
	if err != nil {
		return nil, err
	}
	return versionsPage(out, req)
}

func setIfAny(dst **string, v string) {
	if v != "" {
		*dst = &v
	}
}

// objectsPage turns a ListObjectsV2 answer into a page.
func objectsPage(out *s3.ListObjectsV2Output, req *ListRequest) (*ListPage, error) {
	decode := out.EncodingType == types.EncodingTypeUrl
	page := &ListPage{Entries: make([]ListEntry, len(out.Contents)), Truncated: aws.ToBool(out.IsTruncated)}
	for i := range out.Contents {
		obj := &out.Contents[i]
		key, err := decodeKey(aws.ToString(obj.Key), decode)
		if err != nil {
			return nil, err
		}
		page.Entries[i] = ListEntry{Key: key}
		if obj.Owner != nil {
			page.Entries[i].OwnerID = aws.ToString(obj.Owner.ID)
		}
	}
	if page.Truncated {
		page.Next.ContinuationToken = aws.ToString(out.NextContinuationToken)
	}
	return page, nil
}

// versionsPage turns a ListObjectVersions answer into a page.
func versionsPage(out *s3.ListObjectVersionsOutput, req *ListRequest) (*ListPage, error) {
	entries, err := mergeVersions(out)
	if err != nil {
		return nil, err
	}
	if req.StartAfter != "" && req.Next.Key == "" {
		// radosgw lists the versions of the key-marker itself (AWS starts
		// after it); they belong to the range below, which includes it.
		n := 0
		for n < len(entries) && entries[n].Key == req.StartAfter {
			n++
		}
		entries = entries[n:]
	}
	page := &ListPage{Entries: entries, Truncated: aws.ToBool(out.IsTruncated)}
	if page.Truncated {
		key, err := nextKeyMarker(out, out.EncodingType == types.EncodingTypeUrl)
		if err != nil {
			return nil, err
		}
		page.Next = PageMarker{Key: key, VersionID: aws.ToString(out.NextVersionIdMarker)}
	}
	return page, nil
}

// mergeVersions puts a page's versions and delete markers, which the
// response carries in two lists, back in key order (decoded). Within a key
// their order does not matter: checkpoints resume after whole keys.
func mergeVersions(out *s3.ListObjectVersionsOutput) ([]ListEntry, error) {
	decode := out.EncodingType == types.EncodingTypeUrl
	page := make([]ListEntry, 0, len(out.Versions)+len(out.DeleteMarkers))
	for i := range out.Versions {
		ov := &out.Versions[i]
		key, err := decodeKey(aws.ToString(ov.Key), decode)
		if err != nil {
			return nil, err
		}
		v := ListEntry{Key: key, VersionID: aws.ToString(ov.VersionId), IsLatest: aws.ToBool(ov.IsLatest)}
		if ov.Owner != nil {
			v.OwnerID = aws.ToString(ov.Owner.ID)
		}
		page = append(page, v)
	}
	versions := len(page)
	for i := range out.DeleteMarkers {
		dm := &out.DeleteMarkers[i]
		key, err := decodeKey(aws.ToString(dm.Key), decode)
		if err != nil {
			return nil, err
		}
		m := ListEntry{Key: key, VersionID: aws.ToString(dm.VersionId), IsLatest: aws.ToBool(dm.IsLatest), DeleteMarker: true}
		if dm.Owner != nil {
			m.OwnerID = aws.ToString(dm.Owner.ID)
		}
		page = append(page, m)
	}
	if versions > 0 && versions < len(page) {
		slices.SortStableFunc(page, func(a, b ListEntry) int { return strings.Compare(a.Key, b.Key) })
	}
	return page, nil
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
