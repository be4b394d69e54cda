package s3access

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Bucket is one bucket of the account, with its region ("" when neither
// ListBuckets nor HeadBucket named it).
type Bucket struct {
	Name   string
	Region string
}

// ListBuckets lists every bucket the caller owns, following pages. The
// region comes from ListBuckets' BucketRegion where the endpoint gives
// it, else from HeadBucket's x-amz-bucket-region.
func (c *Client) ListBuckets(ctx context.Context) ([]Bucket, error) {
	var out []Bucket
	pages := s3.NewListBucketsPaginator(c.sdk, &s3.ListBucketsInput{MaxBuckets: aws.Int32(1000)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return out, err
		}
		for _, b := range page.Buckets {
			name := aws.ToString(b.Name)
			if err := ValidateBucketName(name); err != nil {
				// A name S3 would never give: it becomes request paths
				// and file names, so it is not taken on trust.
				return out, fmt.Errorf("ListBuckets answered with %v: not an S3 bucket name (is the endpoint an S3 server?)", err)
			}
			out = append(out, Bucket{Name: name, Region: aws.ToString(b.BucketRegion)})
		}
	}
	for i := range out {
		if out[i].Region != "" {
			continue
		}
		region, err := c.BucketRegion(ctx, out[i].Name)
		if err != nil {
			return out, fmt.Errorf("find the region of bucket %q: %w", out[i].Name, err)
		}
		out[i].Region = region
	}
	return out, nil
}

// BucketRegion asks HeadBucket for the bucket's region: S3 names it in
// x-amz-bucket-region even when it refuses the request (403, or a 301
// from another region). "" when the answer names none.
func (c *Client) BucketRegion(ctx context.Context, bucket string) (string, error) {
	out, err := c.sdk.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket})
	if err == nil {
		return aws.ToString(out.BucketRegion), nil
	}
	if region := bucketRegion(err); region != "" {
		return region, nil
	}
	if status := HTTPStatus(err); status == http.StatusForbidden || status == http.StatusMovedPermanently {
		return "", nil
	}
	return "", err
}
