package s3access

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aclscan/aclscan/s3access/internal/wire"

	"github.com/aclscan/aclscan/internal/xmlscan"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// maxListResponse bounds a list page's body: 1,000 entries of 1,024-byte
// keys, URL-encoded, with their metadata fit well within it.
const maxListResponse = 32 << 20

// listAttemptsFactor gives list requests this many times MaxAttempts: a
// failed page stops the whole scan, while a failed object is one record,
// so a page is worth the patience (with the SDK's backoff, doubling from
// 50 ms up to 20 s, 15 attempts ride out about a minute of outage).
const listAttemptsFactor = 3

func (c *Client) listAttempts() int {
	if !c.answered.Load() {
		// No answer yet: nothing says the endpoint is right (see
		// neverAnsweredBackoff).
		return c.retryer.MaxAttempts()
	}
	return c.retryer.MaxAttempts() * listAttemptsFactor
}

// listObjectsV2 lists one page. Like GetObjectACL it takes the lean path
// (a scan lists a million keys in a thousand pages, and the SDK's XML
// decoding of a page costs more client CPU than fetching its ACLs does);
// it fills the SDK's output shape with the fields a scan reads: keys,
// owners, truncation and continuation. Options.SDKObjectACL, or an
// endpoint that needs more than SigV4, takes the SDK's path.
func (c *Client) listObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	ep, err := c.leanEndpoint(ctx, in.Bucket, optFns)
	if ep == nil || err != nil {
		if err != nil {
			return nil, err
		}
		return c.sdk.ListObjectsV2(ctx, in, optFns...)
	}
	var q queryBuilder
	q.add("continuation-token", in.ContinuationToken)
	q.add("encoding-type", (*string)(&in.EncodingType))
	if aws.ToBool(in.FetchOwner) {
		q.add("fetch-owner", aws.String("true"))
	}
	q.add("list-type", aws.String("2"))
	if in.MaxKeys != nil {
		q.add("max-keys", aws.String(strconv.Itoa(int(*in.MaxKeys))))
	}
	q.add("prefix", in.Prefix)
	q.add("start-after", in.StartAfter)
	var out *s3.ListObjectsV2Output
	err = c.send(ctx, &leanRequest{
		bucket: aws.ToString(in.Bucket), op: "ListObjectsV2", maxAttempts: c.listAttempts(), ep: ep, rawQuery: q.String(), maxBody: maxListResponse,
		parse: func(body []byte) (err error) {
			if out, err = parseListObjectsV2(body); err != nil {
				return fmt.Errorf("parse ListObjectsV2 response: %w", err)
			}
			return nil
		},
	})
	return out, err
}

// listObjectVersions lists one page of versions, on the lean path (see
// listObjectsV2).
func (c *Client) listObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, optFns ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error) {
	ep, err := c.leanEndpoint(ctx, in.Bucket, optFns)
	if ep == nil || err != nil {
		if err != nil {
			return nil, err
		}
		return c.sdk.ListObjectVersions(ctx, in, optFns...)
	}
	var q queryBuilder
	q.add("encoding-type", (*string)(&in.EncodingType))
	q.add("key-marker", in.KeyMarker)
	if in.MaxKeys != nil {
		q.add("max-keys", aws.String(strconv.Itoa(int(*in.MaxKeys))))
	}
	q.add("prefix", in.Prefix)
	q.add("version-id-marker", in.VersionIdMarker)
	q.flag("versions")
	var out *s3.ListObjectVersionsOutput
	err = c.send(ctx, &leanRequest{
		bucket: aws.ToString(in.Bucket), op: "ListObjectVersions", maxAttempts: c.listAttempts(), ep: ep, rawQuery: q.String(), maxBody: maxListResponse,
		parse: func(body []byte) (err error) {
			if out, err = parseListObjectVersions(body); err != nil {
				return fmt.Errorf("parse ListObjectVersions response: %w", err)
			}
			return nil
		},
	})
	return out, err
}

// leanEndpoint returns the bucket's endpoint for the lean path, or nil
// when the call must go through the SDK (asked for, per-call options, or
// an endpoint needing more than SigV4).
func (c *Client) leanEndpoint(ctx context.Context, bucket *string, optFns []func(*s3.Options)) (*bucketEndpoint, error) {
	if c.sdkObjectACL || len(optFns) > 0 || aws.ToString(bucket) == "" {
		return nil, nil
	}
	ep, err := c.bucketEndpoint(ctx, *bucket)
	if err != nil {
		return nil, fmt.Errorf("resolve the endpoint of bucket %q: %w", *bucket, err)
	}
	if ep.useSDK {
		return nil, nil
	}
	return ep, nil
}

// queryBuilder writes a query string; parameters must be added in
// sorted order (as SigV4 canonicalizes them, so the string is sent as
// signed).
type queryBuilder struct{ b strings.Builder }

// add writes name=value, or nothing for a nil or empty value.
func (q *queryBuilder) add(name string, value *string) {
	if value == nil || *value == "" {
		return
	}
	q.flag(name)
	q.b.WriteString(wire.Escape(*value, false))
}

// flag writes a parameter without a value ("versions=").
func (q *queryBuilder) flag(name string) {
	if q.b.Len() > 0 {
		q.b.WriteByte('&')
	}
	q.b.WriteString(name)
	q.b.WriteByte('=')
}

func (q *queryBuilder) String() string { return q.b.String() }

// parseListObjectsV2 reads a ListBucketResult document.
func parseListObjectsV2(doc []byte) (*s3.ListObjectsV2Output, error) {
	const root = "ListBucketResult"
	out := &s3.ListObjectsV2Output{}
	var obj *types.Object
	var owners ownerCache
	err := scanDocument(doc, root, func(s *xmlscan.Scanner, kind xmlscan.Kind) error {
		if kind == xmlscan.Start {
			if s.At(root, "Contents") {
				out.Contents = append(out.Contents, types.Object{})
				obj = &out.Contents[len(out.Contents)-1]
			}
			return nil
		}
		switch {
		case s.At(root, "IsTruncated"):
			truncated, err := parseBool(s.Text())
			out.IsTruncated = &truncated
			return err
		case s.At(root, "NextContinuationToken"):
			out.NextContinuationToken = aws.String(string(s.Text()))
		case s.At(root, "EncodingType"):
			out.EncodingType = types.EncodingType(s.Text())
		case obj == nil:
		case s.At(root, "Contents", "Key"):
			obj.Key = aws.String(string(s.Text()))
		case s.At(root, "Contents", "Owner", "ID"):
			obj.Owner = owners.get(s.Text())
		}
		return nil
	})
	return out, err
}

// parseListObjectVersions reads a ListVersionsResult document.
func parseListObjectVersions(doc []byte) (*s3.ListObjectVersionsOutput, error) {
	const root = "ListVersionsResult"
	out := &s3.ListObjectVersionsOutput{}
	// A Version and a DeleteMarker have the same fields a scan reads.
	var entry string // "Version" or "DeleteMarker": the one being read
	var key, versionID **string
	var latest **bool
	var owner **types.Owner
	var owners ownerCache
	err := scanDocument(doc, root, func(s *xmlscan.Scanner, kind xmlscan.Kind) error {
		if kind == xmlscan.Start {
			switch {
			case s.At(root, "Version"):
				out.Versions = append(out.Versions, types.ObjectVersion{})
				v := &out.Versions[len(out.Versions)-1]
				entry, key, versionID, latest, owner = "Version", &v.Key, &v.VersionId, &v.IsLatest, &v.Owner
			case s.At(root, "DeleteMarker"):
				out.DeleteMarkers = append(out.DeleteMarkers, types.DeleteMarkerEntry{})
				m := &out.DeleteMarkers[len(out.DeleteMarkers)-1]
				entry, key, versionID, latest, owner = "DeleteMarker", &m.Key, &m.VersionId, &m.IsLatest, &m.Owner
			}
			return nil
		}
		switch {
		case s.At(root, "IsTruncated"):
			truncated, err := parseBool(s.Text())
			out.IsTruncated = &truncated
			return err
		case s.At(root, "NextKeyMarker"):
			out.NextKeyMarker = aws.String(string(s.Text()))
		case s.At(root, "NextVersionIdMarker"):
			out.NextVersionIdMarker = aws.String(string(s.Text()))
		case s.At(root, "EncodingType"):
			out.EncodingType = types.EncodingType(s.Text())
		case entry == "":
		case s.At(root, entry, "Key"):
			*key = aws.String(string(s.Text()))
		case s.At(root, entry, "VersionId"):
			*versionID = aws.String(string(s.Text()))
		case s.At(root, entry, "IsLatest"):
			b, err := parseBool(s.Text())
			*latest = &b
			return err
		case s.At(root, entry, "Owner", "ID"):
			*owner = owners.get(s.Text())
		}
		return nil
	})
	return out, err
}

// scanDocument checks the root element's name and calls visit for every
// start and end tag below it.
func scanDocument(doc []byte, root string, visit func(*xmlscan.Scanner, xmlscan.Kind) error) error {
	s := xmlscan.New(doc)
	for {
		kind, err := s.Next()
		if err != nil {
			return err
		}
		if kind == xmlscan.Done {
			return nil
		}
		if s.Depth() == 1 {
			if kind == xmlscan.Start && s.Name() != root {
				return fmt.Errorf("root element is <%s>, want <%s>", s.Name(), root)
			}
			continue
		}
		if err := visit(s, kind); err != nil {
			return err
		}
	}
}

func parseBool(text []byte) (bool, error) {
	switch strings.TrimSpace(string(text)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", text)
}

// ownerCache shares one Owner among the entries of a page, which nearly
// always have the same owner.
type ownerCache struct{ last *types.Owner }

func (o *ownerCache) get(id []byte) *types.Owner {
	if o.last == nil || aws.ToString(o.last.ID) != string(id) {
		o.last = &types.Owner{ID: aws.String(string(id))}
	}
	return o.last
}
