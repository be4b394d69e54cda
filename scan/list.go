package scan

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/aclscan/aclscan/s3access"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// list lists every range with up to chains concurrent chains of requests
// and calls emit for each object (or version) to check. It stops at the
// first error of a listing or of emit.
func (s *scanner) list(ctx context.Context, chains int, emit func(item) error) error {
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	// Chains waiting for a range must not outlive the scan.
	defer context.AfterFunc(ctx, s.ranges.stop)()
	chains = max(chains, 1)
	s.ranges.addChains(chains)
	for range chains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r := s.ranges.take()
				if r == nil {
					return
				}
				var err error
				if s.cfg.AllVersions {
					err = s.listVersionRange(ctx, r, emit)
				} else {
					err = s.listObjectRange(ctx, r, emit)
				}
				s.ranges.release()
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					s.ranges.stop()
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// maxPageOutageWaits bounds how often one page waits for the endpoint: a
// page that fails while the endpoint answers probes is not an outage.
const maxPageOutageWaits = 3

// listPage requests a page. When the request fails the way an outage
// does (no answer, or a 5xx, after the client's retries), it waits for
// the endpoint as a run of failed objects does (Config.OutageWait) and
// asks again.
func listPage[T any](ctx context.Context, s *scanner, list func() (T, error)) (T, error) {
	for waits := 0; ; waits++ {
		out, err := list()
		if err == nil || waits == maxPageOutageWaits || ctx.Err() != nil || !s3access.IsUnavailable(err) {
			return out, err
		}
		if _, werr := s.awaitEndpoint(ctx, s.probeList); werr != nil {
			return out, err
		}
	}
}

func (s *scanner) listOp() string {
	op := fmt.Sprintf("list s3://%s/%s", s.cfg.Bucket, s.cfg.Prefix)
	if s.cfg.AllVersions {
		op += " (versions)"
	}
	return op
}

// maybeSplit hands part of r's remaining keyspace to idle chains, using
// the page just listed (which ended at last) to place the split points.
func (s *scanner) maybeSplit(r *keyRange, pageKeys []string, last string) {
	idle := s.ranges.idleChains()
	if idle <= 0 {
		return
	}
	until, bounded := r.bounds()
	split := splitPoints
	if s.cfg.splitter != nil {
		split = s.cfg.splitter
	}
	points := split(pageKeys, last, until, bounded, idle)
	// Ranges must not overlap: keep only increasing points inside (last, until).
	valid := points[:0]
	for _, p := range points {
		if p > last && (!bounded || p < until) && (len(valid) == 0 || p > valid[len(valid)-1]) {
			valid = append(valid, p)
		}
	}
	s.ranges.split(r, valid)
}

func (s *scanner) listObjectRange(ctx context.Context, r *keyRange, emit func(item) error) error {
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
	if after := r.start(); after != "" {
		in.StartAfter = &after
	}
	pageKeys := make([]string, 0, s.cfg.PageSize)
	for {
		out, err := listPage(ctx, s, func() (*s3.ListObjectsV2Output, error) { return s.api.ListObjectsV2(ctx, in) })
		if err != nil {
			return &Error{Op: s.listOp(), Err: err}
		}
		decode := out.EncodingType == types.EncodingTypeUrl
		pageKeys = pageKeys[:0]
		for i := range out.Contents {
			obj := &out.Contents[i]
			key, err := decodeKey(aws.ToString(obj.Key), decode)
			if err != nil {
				return &Error{Op: s.listOp(), Err: err}
			}
			seq, fresh, beyond, err := r.add(Position{Key: key}, false, false)
			if err != nil {
				return &Error{Op: s.listOp(), Err: err}
			}
			if beyond {
				r.finishListing()
				return nil
			}
			pageKeys = append(pageKeys, key)
			if !fresh {
				continue
			}
			it := item{key: key, rng: r, seq: seq}
			if obj.Owner != nil {
				it.ownerID = aws.ToString(obj.Owner.ID)
			}
			s.progress.Listed.Add(1)
			if err := emit(it); err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			r.finishListing()
			return nil
		}
		next := aws.ToString(out.NextContinuationToken)
		if next == "" || next == aws.ToString(in.ContinuationToken) {
			return &Error{Op: s.listOp(), Err: fmt.Errorf("the server said the listing continues but gave no new continuation token")}
		}
		in.ContinuationToken = &next
		if n := len(pageKeys); n > 0 {
			s.maybeSplit(r, pageKeys, pageKeys[n-1])
		}
	}
}

// listedVersion is one entry of a version listing, key decoded.
type listedVersion struct {
	key, versionID, ownerID string
	isLatest, marker        bool
}

func (s *scanner) listVersionRange(ctx context.Context, r *keyRange, emit func(item) error) error {
	in := &s3.ListObjectVersionsInput{
		Bucket:       &s.cfg.Bucket,
		MaxKeys:      &s.cfg.PageSize,
		EncodingType: types.EncodingTypeUrl,
	}
	if s.cfg.Prefix != "" {
		in.Prefix = &s.cfg.Prefix
	}
	if after := r.start(); after != "" {
		in.KeyMarker = &after
	}
	var page []listedVersion
	pageKeys := make([]string, 0, s.cfg.PageSize)
	for {
		out, err := listPage(ctx, s, func() (*s3.ListObjectVersionsOutput, error) { return s.api.ListObjectVersions(ctx, in) })
		if err != nil {
			return &Error{Op: s.listOp(), Err: err}
		}
		if page, err = mergeVersions(page[:0], out); err != nil {
			return &Error{Op: s.listOp(), Err: err}
		}
		pageKeys = pageKeys[:0]
		for i := range page {
			v := &page[i]
			seq, fresh, beyond, err := r.add(Position{Key: v.key, Version: v.versionID}, v.marker, true)
			if err != nil {
				return &Error{Op: s.listOp(), Err: err}
			}
			if beyond {
				r.finishListing()
				return nil
			}
			pageKeys = append(pageKeys, v.key)
			if !fresh {
				continue
			}
			s.progress.Listed.Add(1)
			if err := emit(item{key: v.key, versionID: v.versionID, ownerID: v.ownerID, isLatest: v.isLatest, rng: r, seq: seq}); err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			r.finishListing()
			return nil
		}
		decode := out.EncodingType == types.EncodingTypeUrl
		nextVersion := aws.ToString(out.NextVersionIdMarker)
		nextKey, err := nextKeyMarker(out, decode)
		if err != nil {
			return &Error{Op: s.listOp(), Err: err}
		}
		if nextKey == "" || (nextKey == aws.ToString(in.KeyMarker) && nextVersion == aws.ToString(in.VersionIdMarker)) {
			return &Error{Op: s.listOp(), Err: fmt.Errorf("the server said the listing continues but gave no new key marker")}
		}
		in.KeyMarker = &nextKey
		in.VersionIdMarker = nil
		if nextVersion != "" {
			in.VersionIdMarker = &nextVersion
		}
		if n := len(pageKeys); n > 0 {
			s.maybeSplit(r, pageKeys, pageKeys[n-1])
		}
	}
}

// mergeVersions puts a page's versions and delete markers, which the
// response carries in two lists, back in key order (decoded). Within a key
// their order does not matter: checkpoints resume after whole keys.
func mergeVersions(page []listedVersion, out *s3.ListObjectVersionsOutput) ([]listedVersion, error) {
	decode := out.EncodingType == types.EncodingTypeUrl
	for i := range out.Versions {
		ov := &out.Versions[i]
		key, err := decodeKey(aws.ToString(ov.Key), decode)
		if err != nil {
			return nil, err
		}
		v := listedVersion{key: key, versionID: aws.ToString(ov.VersionId), isLatest: aws.ToBool(ov.IsLatest)}
		if ov.Owner != nil {
			v.ownerID = aws.ToString(ov.Owner.ID)
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
		page = append(page, listedVersion{key: key, versionID: aws.ToString(dm.VersionId), isLatest: aws.ToBool(dm.IsLatest), marker: true})
	}
	if versions > 0 && versions < len(page) {
		slices.SortStableFunc(page, func(a, b listedVersion) int { return strings.Compare(a.key, b.key) })
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
