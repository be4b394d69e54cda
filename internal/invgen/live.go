package invgen

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/inventory/aclfield"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// FromBucket lists a bucket of the local S3 (its versions with
// versioned) and reads every object's ACL as its owner (user A or B, by
// the listing's owner ID), the way S3 Inventory sees ACLs: an object
// another user wrote is shown with its real ACL, where a live scan by
// the bucket owner is denied.
func FromBucket(ctx context.Context, env locals3.Env, bucket string, versioned bool) ([]Object, error) {
	a, b := env.Client(env.A), env.Client(env.B)
	var objects []Object
	if versioned {
		pages := s3.NewListObjectVersionsPaginator(a, &s3.ListObjectVersionsInput{Bucket: &bucket})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			for _, v := range page.Versions {
				objects = append(objects, Object{Key: aws.ToString(v.Key), VersionID: aws.ToString(v.VersionId), IsLatest: aws.ToBool(v.IsLatest),
					Size: aws.ToInt64(v.Size), LastModified: aws.ToTime(v.LastModified), ETag: aws.ToString(v.ETag), StorageClass: string(v.StorageClass), Owner: ownerID(v.Owner)})
			}
			for _, m := range page.DeleteMarkers {
				objects = append(objects, Object{Key: aws.ToString(m.Key), VersionID: aws.ToString(m.VersionId), IsLatest: aws.ToBool(m.IsLatest),
					DeleteMarker: true, LastModified: aws.ToTime(m.LastModified)})
			}
		}
	} else {
		pages := s3.NewListObjectsV2Paginator(a, &s3.ListObjectsV2Input{Bucket: &bucket, FetchOwner: aws.Bool(true)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			for _, o := range page.Contents {
				objects = append(objects, Object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), LastModified: aws.ToTime(o.LastModified),
					ETag: aws.ToString(o.ETag), StorageClass: string(o.StorageClass), Owner: ownerID(o.Owner)})
			}
		}
	}
	// Each object's ACL, read as its owner, 16 at a time.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, 16)
	for i := range objects {
		o := &objects[i]
		if o.DeleteMarker {
			continue
		}
		client := a
		if o.Owner == env.B.ID {
			client = b
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			in := &s3.GetObjectAclInput{Bucket: &bucket, Key: &o.Key}
			if o.VersionID != "" {
				in.VersionId = &o.VersionID
			}
			out, err := client.GetObjectAcl(ctx, in)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("ACL of %q as its owner %s: %w", o.Key, o.Owner, err)
				}
				mu.Unlock()
				return
			}
			if out.Owner != nil {
				o.Owner = aws.ToString(out.Owner.ID)
			}
			o.ACL = aclfield.Encode(s3access.ConvertGrants(out.Grants), false)
		})
	}
	wg.Wait()
	return objects, firstErr
}

func ownerID(o *types.Owner) string {
	if o == nil {
		return ""
	}
	return aws.ToString(o.ID)
}

// PutTo stores a report's files in a bucket of the local S3 as user A.
func PutTo(ctx context.Context, env locals3.Env, bucket string) Put {
	a := env.Client(env.A)
	return func(key string, body []byte) error {
		_, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body)})
		return err
	}
}
