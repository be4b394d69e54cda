package s3access

import (
	"context"

	"github.com/aclscan/aclscan/acl"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// PutObjectACL replaces an object's ACL (versionID "" for the current
// version) with p, through the SDK, under the same throttling controller
// as the scan's requests.
func (c *Client) PutObjectACL(ctx context.Context, bucket, key, versionID string, p acl.Policy) error {
	in := &s3.PutObjectAclInput{Bucket: &bucket, Key: &key, AccessControlPolicy: accessControlPolicy(p)}
	if versionID != "" {
		in.VersionId = &versionID
	}
	return c.limited(ctx, func() error {
		_, err := c.sdk.PutObjectAcl(ctx, in)
		return err
	})
}

// PutBucketACL replaces a bucket's ACL with p.
func (c *Client) PutBucketACL(ctx context.Context, bucket string, p acl.Policy) error {
	in := &s3.PutBucketAclInput{Bucket: &bucket, AccessControlPolicy: accessControlPolicy(p)}
	return c.limited(ctx, func() error {
		_, err := c.sdk.PutBucketAcl(ctx, in)
		return err
	})
}

// limited runs call under the AIMD limiter, when the client has one: a
// throttled answer cuts the requests in flight, as for GetObjectAcl.
func (c *Client) limited(ctx context.Context, call func() error) error {
	if c.limiter == nil {
		return call()
	}
	sent, err := c.limiter.acquire(ctx)
	if err != nil {
		return err
	}
	err = call()
	c.limiter.release(sent, IsThrottle(err))
	if IsThrottle(err) {
		c.throttles.Add(1)
	}
	return err
}

func accessControlPolicy(p acl.Policy) *types.AccessControlPolicy {
	grants := make([]types.Grant, 0, len(p.Grants))
	for _, g := range p.Grants {
		grantee := &types.Grantee{Type: types.Type(g.Type)}
		if g.ID != "" {
			grantee.ID = aws.String(g.ID)
		}
		if g.URI != "" {
			grantee.URI = aws.String(g.URI)
		}
		if g.Email != "" {
			grantee.EmailAddress = aws.String(g.Email)
		}
		grants = append(grants, types.Grant{Grantee: grantee, Permission: types.Permission(g.Permission)})
	}
	return &types.AccessControlPolicy{Owner: &types.Owner{ID: aws.String(p.Owner)}, Grants: grants}
}
