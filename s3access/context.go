package s3access

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/policy"
	"github.com/aclscan/aclscan/s3access/internal/wire"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
)

// accountOptions say how to read the account-level settings, and keep
// what was read: they are the same for every bucket of the account.
type accountOptions struct {
	id, stsEndpoint, controlEndpoint string

	mu    sync.Mutex
	block *acl.Reading[acl.PublicAccessBlock]
	// resolved is the account ID the settings were read for ("" until
	// read, or when it could not be learned).
	resolved string

	// ctlMu guards the S3 Control client and the account ID it is asked
	// for, made once per client (ctlProblem: why there is none).
	ctlMu      sync.Mutex
	ctlDone    bool
	ctl        *s3control.Client
	ctlAccount string
	ctlProblem string
}

// BucketContext reads the settings that decide what a bucket's ACLs
// actually grant: its ACL (owner and grants), Object Ownership, Block
// Public Access (bucket and account) and policy status, at the same time.
// A setting that cannot be read is recorded with its reason. The error is
// set only when GetBucketAcl fails in a way that says the bucket cannot
// be scanned at all (no such bucket, another region, the endpoint down);
// an ACL that is only denied or not implemented is a reading's problem.
func (c *Client) BucketContext(ctx context.Context, bucket string) (acl.BucketContext, error) {
	onAWS := c.onAWS()
	bc := acl.BucketContext{Bucket: bucket, ACLReadsEffective: onAWS, UsersAreAccounts: !onAWS, Partition: partition(c.Region)}
	// A bucket that cannot be scanned (GetBucketAcl failing for good)
	// stops the other reads at once: their answers no longer matter, and
	// their retries would only hold the error back.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var aclErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		policy, err := c.bucketACL(ctx, bucket)
		switch {
		case err == nil:
			bc.Owner = policy.Owner
			bc.ACL = acl.Read(policy.Grants)
		case IsAccessDenied(err) || IsNotImplemented(err) || ErrorCode(err) == "MethodNotAllowed":
			bc.ACL = acl.Unread[[]acl.Grant](unreadable("GetBucketAcl", "s3:GetBucketAcl", err))
		default:
			aclErr = err
			cancel()
		}
	})
	wg.Go(func() { bc.Ownership = c.ownership(ctx, bucket) })
	wg.Go(func() { bc.BucketBlock = c.bucketBlock(ctx, bucket) })
	wg.Go(func() { bc.PolicyPublic = c.policyPublic(ctx, bucket) })
	wg.Go(func() { bc.Policy = c.bucketPolicy(ctx, bucket) })
	wg.Go(func() { bc.AccountBlock = c.AccountBlock(ctx) })
	wg.Go(func() { bc.AccessPoints = c.accessPoints(ctx, bucket) })
	wg.Wait()
	c.account.mu.Lock()
	bc.Account = c.account.resolved
	c.account.mu.Unlock()
	return bc, aclErr
}

// partition is the ARN partition of a region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// bucketPolicy reads the bucket policy (GetBucketPolicy): its document,
// "" when the bucket has none, or why it could not be read.
func (c *Client) bucketPolicy(ctx context.Context, bucket string) acl.Reading[string] {
	var doc string
	lean, err := c.bucketSettingBody(ctx, bucket, "GetBucketPolicy", "policy=", policy.MaxSize, func(body []byte) error {
		doc = string(body)
		return nil
	})
	if !lean {
		var out *s3.GetBucketPolicyOutput
		if out, err = c.sdk.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &bucket}); err == nil {
			doc = aws.ToString(out.Policy)
		}
	}
	switch {
	case ErrorCode(err) == "NoSuchBucketPolicy":
		return acl.Read("")
	case err != nil:
		r := acl.Unread[string](unreadable("GetBucketPolicy", "s3:GetBucketPolicy", err))
		r.Err = err
		return r
	case strings.TrimSpace(doc) == "":
		return acl.Unread[string]("GetBucketPolicy answered with an empty document")
	}
	return acl.Read(doc)
}

// The bucket-level reads take the lean path too (bucketSetting): through
// the SDK, these four calls cost a Lambda function at 128 MB 2.8 ms of CPU
// per scan, 19% of a 100-object scan's (docs/benchmarks/README.md).

// bucketACL reads the bucket's ACL (GetBucketAcl).
func (c *Client) bucketACL(ctx context.Context, bucket string) (acl.Policy, error) {
	var policy acl.Policy
	lean, err := c.bucketSetting(ctx, bucket, "GetBucketAcl", "acl=", func(body []byte) (err error) {
		policy, err = acl.ParsePolicy(body)
		return err
	})
	if lean {
		return policy, err
	}
	out, err := c.sdk.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: &bucket})
	if err != nil {
		return policy, err
	}
	if out.Owner != nil {
		policy.Owner = aws.ToString(out.Owner.ID)
	}
	policy.Grants = ConvertGrants(out.Grants)
	return policy, nil
}

func (c *Client) ownership(ctx context.Context, bucket string) acl.Reading[string] {
	var rules []string
	lean, err := c.bucketSetting(ctx, bucket, "GetBucketOwnershipControls", "ownershipControls=", func(body []byte) error {
		var doc struct {
			Rules []string `xml:"Rule>ObjectOwnership"`
		}
		err := decodeRoot(body, &doc, "OwnershipControls")
		rules = doc.Rules
		return err
	})
	if !lean {
		var out *s3.GetBucketOwnershipControlsOutput
		if out, err = c.sdk.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: &bucket}); err == nil && out.OwnershipControls != nil {
			for _, r := range out.OwnershipControls.Rules {
				rules = append(rules, string(r.ObjectOwnership))
			}
		}
	}
	switch {
	case ErrorCode(err) == "OwnershipControlsNotFoundError":
		// No ownership controls: the object writer owns, ACLs apply.
		return acl.Read(acl.ObjectWriter)
	case err != nil:
		return acl.Unread[string](unreadable("GetBucketOwnershipControls", "s3:GetBucketOwnershipControls", err))
	case len(rules) == 0:
		// radosgw answers 200 with a document of another kind.
		return acl.Unread[string]("the server answered without an Object Ownership rule (it does not implement Object Ownership)")
	}
	return acl.Read(rules[0])
}

func (c *Client) bucketBlock(ctx context.Context, bucket string) acl.Reading[acl.PublicAccessBlock] {
	var block *types.PublicAccessBlockConfiguration
	lean, err := c.bucketSetting(ctx, bucket, "GetPublicAccessBlock", "publicAccessBlock=", func(body []byte) error {
		var doc struct {
			BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets *bool
		}
		// radosgw names the root BlockPublicAccessBlockConfiguration.
		err := decodeRoot(body, &doc, "PublicAccessBlockConfiguration", "BlockPublicAccessBlockConfiguration")
		block = &types.PublicAccessBlockConfiguration{BlockPublicAcls: doc.BlockPublicAcls, IgnorePublicAcls: doc.IgnorePublicAcls,
			BlockPublicPolicy: doc.BlockPublicPolicy, RestrictPublicBuckets: doc.RestrictPublicBuckets}
		return err
	})
	if !lean {
		var out *s3.GetPublicAccessBlockOutput
		if out, err = c.sdk.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &bucket}); err == nil {
			block = out.PublicAccessBlockConfiguration
		}
	}
	switch {
	case ErrorCode(err) == "NoSuchPublicAccessBlockConfiguration":
		return acl.Read(acl.PublicAccessBlock{})
	case err != nil:
		return acl.Unread[acl.PublicAccessBlock](unreadable("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock", err))
	case block == nil:
		return acl.Read(acl.PublicAccessBlock{})
	}
	return acl.Read(publicAccessBlock(block.BlockPublicAcls, block.IgnorePublicAcls, block.BlockPublicPolicy, block.RestrictPublicBuckets))
}

func (c *Client) policyPublic(ctx context.Context, bucket string) acl.Reading[bool] {
	var public *bool
	lean, err := c.bucketSetting(ctx, bucket, "GetBucketPolicyStatus", "policyStatus=", func(body []byte) error {
		var doc struct {
			IsPublic *bool
		}
		err := decodeRoot(body, &doc, "PolicyStatus")
		public = doc.IsPublic
		return err
	})
	if !lean {
		var out *s3.GetBucketPolicyStatusOutput
		if out, err = c.sdk.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: &bucket}); err == nil && out.PolicyStatus != nil {
			public = out.PolicyStatus.IsPublic
		}
	}
	switch {
	case ErrorCode(err) == "NoSuchBucketPolicy":
		return acl.Read(false)
	case err != nil:
		return acl.Unread[bool](unreadable("GetBucketPolicyStatus", "s3:GetBucketPolicyStatus", err))
	}
	return acl.Read(aws.ToBool(public))
}

// decodeRoot decodes body into v if its root element has one of the
// names; a document of another kind leaves v as it is and is not read
// further (radosgw answers subresources it does not implement with the
// bucket's listing, up to a thousand keys).
func decodeRoot(body []byte, v any, roots ...string) error {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		if se, ok := tok.(xml.StartElement); ok {
			if !slices.Contains(roots, se.Name.Local) {
				return nil
			}
			return d.DecodeElement(v, &se)
		}
	}
}

// bucketSetting GETs a bucket subresource (query, e.g. "acl=") on the lean
// path and parses the answer. lean is false when the lean path does not
// serve this client or bucket: the caller then asks the SDK.
func (c *Client) bucketSetting(ctx context.Context, bucket, op, query string, parse func([]byte) error) (lean bool, err error) {
	return c.bucketSettingBody(ctx, bucket, op, query, maxACLResponse, parse)
}

// bucketSettingBody is bucketSetting with a bound on the answer's size.
func (c *Client) bucketSettingBody(ctx context.Context, bucket, op, query string, maxBody int64, parse func([]byte) error) (lean bool, err error) {
	if c.sdkObjectACL {
		return false, nil
	}
	ep, err := c.bucketEndpoint(ctx, bucket)
	if err != nil {
		return true, fmt.Errorf("resolve the endpoint of bucket %q: %w", bucket, err)
	}
	if ep.useSDK {
		return false, nil
	}
	return true, c.send(ctx, &leanRequest{bucket: bucket, op: op, maxAttempts: c.retryer.MaxAttempts(), ep: ep, rawQuery: query, maxBody: maxBody,
		parse: func(body []byte) error {
			if err := parse(body); err != nil {
				return fmt.Errorf("parse the %s answer: %w", op, err)
			}
			return nil
		}})
}

// AccountBlock reads the account's Block Public Access settings (S3
// Control GetPublicAccessBlock; the account from Options.AccountID or STS
// GetCallerIdentity), once per client: they hold for every bucket.
func (c *Client) AccountBlock(ctx context.Context) acl.Reading[acl.PublicAccessBlock] {
	a := &c.account
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.block != nil {
		return *a.block
	}
	r := c.readAccountBlock(ctx)
	if ctx.Err() == nil {
		a.block = &r // an interrupted read is not the account's answer
	}
	return r
}

func (c *Client) readAccountBlock(ctx context.Context) acl.Reading[acl.PublicAccessBlock] {
	a := &c.account
	control, account, problem := c.control(ctx)
	if problem != "" {
		return acl.Unread[acl.PublicAccessBlock](problem)
	}
	a.resolved = account
	out, err := control.GetPublicAccessBlock(ctx, &s3control.GetPublicAccessBlockInput{AccountId: &account})
	switch {
	case ErrorCode(err) == "NoSuchPublicAccessBlockConfiguration":
		return acl.Read(acl.PublicAccessBlock{})
	case err != nil:
		return acl.Unread[acl.PublicAccessBlock](unreadable("S3 Control GetPublicAccessBlock", "s3:GetAccountPublicAccessBlock", err))
	case out.PublicAccessBlockConfiguration == nil:
		return acl.Read(acl.PublicAccessBlock{})
	}
	b := out.PublicAccessBlockConfiguration
	return acl.Read(publicAccessBlock(b.BlockPublicAcls, b.IgnorePublicAcls, b.BlockPublicPolicy, b.RestrictPublicBuckets))
}

// control returns the S3 Control client and the account it is asked
// for (Options.AccountID, or STS GetCallerIdentity's), made once per
// client; problem says why there is none.
func (c *Client) control(ctx context.Context) (client *s3control.Client, account, problem string) {
	a := &c.account
	a.ctlMu.Lock()
	defer a.ctlMu.Unlock()
	if a.ctlDone {
		return a.ctl, a.ctlAccount, a.ctlProblem
	}
	controlEndpoint := a.controlEndpoint
	if controlEndpoint == "" {
		controlEndpoint = os.Getenv("AWS_ENDPOINT_URL_S3_CONTROL")
	}
	if c.Endpoint != "" && controlEndpoint == "" {
		a.ctlDone, a.ctlProblem = true, "not read: the account's settings are in AWS's S3 Control API, and the S3 endpoint is not AWS"
		return nil, "", a.ctlProblem
	}
	account = a.id
	if account == "" {
		stsClient := sts.NewFromConfig(c.awsConfig, func(o *sts.Options) {
			if a.stsEndpoint != "" {
				o.BaseEndpoint = aws.String(a.stsEndpoint)
			}
		})
		out, err := stsClient.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			problem = "the account ID is unknown: " + unreadable("STS GetCallerIdentity", "sts:GetCallerIdentity", err)
			if ctx.Err() == nil {
				a.ctlDone, a.ctlProblem = true, problem // an interrupted read is not the account's answer
			}
			return nil, "", problem
		}
		account = aws.ToString(out.Account)
	}
	a.ctl = s3control.NewFromConfig(c.awsConfig, func(o *s3control.Options) {
		if controlEndpoint != "" {
			o.BaseEndpoint = aws.String(controlEndpoint)
			if needsPathStyle(controlEndpoint) {
				o.EndpointResolverV2 = noAccountLabel{o.EndpointResolverV2}
			}
		}
	})
	a.ctlDone, a.ctlAccount = true, account
	return a.ctl, account, ""
}

// maxAccessPoints bounds the access points judged per bucket (AWS allows
// 10,000 per account and Region); past it the reading says so.
const maxAccessPoints = 1000

// accessPoints reads the bucket's access points in the account (S3
// Control ListAccessPoints, then GetAccessPoint and GetAccessPointPolicy
// for each): their network origin, Block Public Access and policy.
func (c *Client) accessPoints(ctx context.Context, bucket string) acl.Reading[[]acl.AccessPoint] {
	control, account, problem := c.control(ctx)
	if problem != "" {
		return acl.Unread[[]acl.AccessPoint](problem)
	}
	aps := []acl.AccessPoint{}
	var token *string
	for {
		out, err := control.ListAccessPoints(ctx, &s3control.ListAccessPointsInput{AccountId: &account, Bucket: &bucket, NextToken: token})
		if err != nil {
			return acl.Unread[[]acl.AccessPoint](unreadable("S3 Control ListAccessPoints", "s3:ListAccessPoints", err))
		}
		for _, ap := range out.AccessPointList {
			if aws.ToString(ap.Bucket) != bucket {
				continue // a server that does not filter
			}
			aps = append(aps, acl.AccessPoint{Name: aws.ToString(ap.Name), ARN: aws.ToString(ap.AccessPointArn), NetworkOrigin: string(ap.NetworkOrigin)})
			if ap.VpcConfiguration != nil {
				aps[len(aps)-1].VpcID = aws.ToString(ap.VpcConfiguration.VpcId)
			}
		}
		if len(aps) > maxAccessPoints {
			return acl.Unread[[]acl.AccessPoint](fmt.Sprintf("the bucket has more than %d access points: not judged", maxAccessPoints))
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		token = out.NextToken
	}
	for i := range aps {
		ap := &aps[i]
		got, err := control.GetAccessPoint(ctx, &s3control.GetAccessPointInput{AccountId: &account, Name: &ap.Name})
		switch {
		case err != nil:
			ap.Block = acl.Unread[acl.PublicAccessBlock](unreadable("S3 Control GetAccessPoint", "s3:GetAccessPoint", err))
		case got.PublicAccessBlockConfiguration == nil:
			ap.Block = acl.Read(acl.PublicAccessBlock{})
		default:
			b := got.PublicAccessBlockConfiguration
			ap.Block = acl.Read(publicAccessBlock(b.BlockPublicAcls, b.IgnorePublicAcls, b.BlockPublicPolicy, b.RestrictPublicBuckets))
		}
		policy, err := control.GetAccessPointPolicy(ctx, &s3control.GetAccessPointPolicyInput{AccountId: &account, Name: &ap.Name})
		switch {
		case ErrorCode(err) == "NoSuchAccessPointPolicy":
			ap.Policy = acl.Read("")
		case err != nil:
			ap.Policy = acl.Unread[string](unreadable("S3 Control GetAccessPointPolicy", "s3:GetAccessPointPolicy", err))
		default:
			ap.Policy = acl.Read(aws.ToString(policy.Policy))
		}
	}
	return acl.Read(aps)
}

// noAccountLabel keeps S3 Control's endpoint rules from putting the
// account ID in front of an endpoint that is an IP address or localhost
// (123456789012.127.0.0.1 does not resolve): test servers.
type noAccountLabel struct{ next s3control.EndpointResolverV2 }

func (r noAccountLabel) ResolveEndpoint(ctx context.Context, params s3control.EndpointParameters) (smithyendpoints.Endpoint, error) {
	ep, err := r.next.ResolveEndpoint(ctx, params)
	if err == nil && params.AccountId != nil {
		ep.URI.Host = strings.TrimPrefix(ep.URI.Host, *params.AccountId+".")
	}
	return ep, err
}

// publicAccessBlock reads the four settings as S3 and S3 Control give
// them (absent is off).
func publicAccessBlock(blockACLs, ignoreACLs, blockPolicy, restrict *bool) acl.PublicAccessBlock {
	return acl.PublicAccessBlock{
		BlockPublicACLs:       aws.ToBool(blockACLs),
		IgnorePublicACLs:      aws.ToBool(ignoreACLs),
		BlockPublicPolicy:     aws.ToBool(blockPolicy),
		RestrictPublicBuckets: aws.ToBool(restrict),
	}
}

// unreadable is the one-line reason a setting could not be read.
func unreadable(op, permission string, err error) string {
	switch {
	case IsAccessDenied(err):
		return fmt.Sprintf("%s was denied (the identity needs %s)", op, permission)
	case IsNotImplemented(err):
		return fmt.Sprintf("the server does not implement %s", op)
	}
	return fmt.Sprintf("%s failed: %s", op, Short(err))
}

// onAWS reports whether the endpoint is AWS's, whose ACL reads answer
// with the effective ACL (see acl.BucketContext.ACLReadsEffective).
func (c *Client) onAWS() bool {
	if c.Endpoint == "" {
		return true
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return false
	}
	host := u.Hostname()
	return strings.HasSuffix(host, ".amazonaws.com") || strings.HasSuffix(host, ".amazonaws.com.cn")
}

// ServedAnonymously asks, with an unsigned HEAD request (what anyone on
// the internet can send), whether S3 serves the object: true when it
// answers 2xx, false when it refuses (403) or finds nothing (404). Other
// failures are retried like any request, then returned.
func (c *Client) ServedAnonymously(ctx context.Context, bucket, key, versionID string) (bool, error) {
	ep, err := c.bucketEndpoint(ctx, bucket)
	if err != nil {
		return false, fmt.Errorf("resolve the endpoint of bucket %q: %w", bucket, err)
	}
	query := ""
	if versionID != "" {
		query = "versionId=" + wire.Escape(versionID, false)
	}
	err = c.send(ctx, &leanRequest{
		bucket: bucket, op: "HeadObject (anonymous)", method: http.MethodHead, anonymous: true,
		maxAttempts: c.retryer.MaxAttempts(), ep: ep, key: key, rawQuery: query, maxBody: 0,
	})
	switch status := HTTPStatus(err); {
	case err == nil:
		return true, nil
	case status == http.StatusForbidden, status == http.StatusNotFound, status == http.StatusMethodNotAllowed:
		return false, nil
	}
	return false, err
}
