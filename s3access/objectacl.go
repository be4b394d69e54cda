package s3access

import (
	"context"
	"fmt"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/s3access/internal/wire"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// GetObjectACL reads one object's ACL (versionID "" for the current
// version). It is the per-object call of a scan, so unless the client was
// built with Options.SDKObjectACL it takes a lean path: the SDK's endpoint
// resolution (once per bucket), credentials, SigV4 signer and retry policy,
// without the SDK's generic middleware stack, whose client CPU per request
// is measured against it in docs/benchmarks/README.md.
func (c *Client) GetObjectACL(ctx context.Context, bucket, key, versionID string) (acl.Policy, error) {
	if c.sdkObjectACL {
		return c.getObjectACLSDK(ctx, bucket, key, versionID)
	}
	ep, err := c.bucketEndpoint(ctx, bucket)
	if err != nil {
		return acl.Policy{}, fmt.Errorf("resolve the endpoint of bucket %q: %w", bucket, err)
	}
	if ep.useSDK {
		return c.getObjectACLSDK(ctx, bucket, key, versionID)
	}
	query := "acl="
	if versionID != "" {
		query += "&versionId=" + wire.Escape(versionID, false)
	}
	var policy acl.Policy
	err = c.send(ctx, &leanRequest{
		bucket: bucket, op: "GetObjectAcl", maxAttempts: c.retryer.MaxAttempts(), ep: ep, key: key, rawQuery: query, maxBody: maxACLResponse,
		parse: func(body []byte) (err error) {
			if policy, err = acl.ParsePolicy(body); err != nil {
				return fmt.Errorf("parse ACL response: %w", err)
			}
			return nil
		},
	})
	return policy, err
}

// maxACLResponse bounds the body read: an ACL holds at most 100 grants
// (a few tens of kilobytes); anything far larger is not an ACL.
const maxACLResponse = 1 << 20

// getObjectACLSDK is the same call through the SDK's full stack.
func (c *Client) getObjectACLSDK(ctx context.Context, bucket, key, versionID string) (acl.Policy, error) {
	in := &s3.GetObjectAclInput{Bucket: &bucket, Key: &key}
	if versionID != "" {
		in.VersionId = &versionID
	}
	out, err := c.sdk.GetObjectAcl(ctx, in)
	if err != nil {
		return acl.Policy{}, err
	}
	policy := acl.Policy{Grants: ConvertGrants(out.Grants)}
	if out.Owner != nil {
		policy.Owner = aws.ToString(out.Owner.ID)
	}
	return policy, nil
}

// ConvertGrants turns the SDK's grants into aclscan's.
func ConvertGrants(in []types.Grant) []acl.Grant {
	if len(in) == 0 {
		return nil
	}
	out := make([]acl.Grant, len(in))
	for i := range in {
		g := &out[i]
		g.Permission = string(in[i].Permission)
		if ge := in[i].Grantee; ge != nil {
			g.Type = string(ge.Type)
			g.ID = aws.ToString(ge.ID)
			g.URI = aws.ToString(ge.URI)
			g.Email = aws.ToString(ge.EmailAddress)
			g.InferType()
		}
	}
	return out
}
