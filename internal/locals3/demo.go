package locals3

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// DemoBucket is the bucket `make demo` scans, beside DemoLockedBucket,
// whose Block Public Access (IgnorePublicAcls) makes its public grant
// latent, and DemoWebsiteBucket, whose objects have private ACLs and a
// bucket policy that opens some of them to anyone.
const (
	DemoBucket        = "demo"
	DemoLockedBucket  = "demo-locked"
	DemoLockedKey     = "archive/old-press-kit.zip"
	DemoWebsiteBucket = "demo-website"
)

// DemoWebsitePublic are the website bucket's keys its policy opens to
// anyone; DemoWebsiteKeys are all of its keys.
var (
	DemoWebsitePublic = []string{"site/index.html", "site/logo.png"}
	DemoWebsiteKeys   = []string{"site/index.html", "site/logo.png", "drafts/launch-plan.txt"}
)

// demoWebsitePolicy is the website bucket's policy (%s: the bucket).
const demoWebsitePolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"PublicWebsite","Effect":"Allow","Principal":"*",` +
	`"Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/site/*"}]}`

// DemoRisky are the demo's risky keys and the findings a scan should give them.
var DemoRisky = map[string][]string{
	"shared/public-report.pdf": {"public"},
	"shared/all-aws-users.csv": {"authenticated"},
	"shared/partner-feed.json": {"cross-account"},
	"uploads/from-userb.txt":   {"foreign-owner", "unreadable"},
}

// SeedDemo fills the demo bucket: the 100 private objects of the original
// experiment plus one object of each risky kind. Running it again resets
// the same state.
func SeedDemo(ctx context.Context, env Env) error {
	a, b := env.Client(env.A), env.Client(env.B)
	bucket := DemoBucket
	if err := CreateBucket(ctx, a, bucket); err != nil {
		return err
	}
	if err := PutObjects(ctx, a, bucket, Keys("experiment/object-", 100), nil); err != nil {
		return err
	}
	acls := []struct {
		key  string
		edit func(*s3.PutObjectInput)
	}{
		{"shared/public-report.pdf", PublicRead},
		{"shared/all-aws-users.csv", func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLAuthenticatedRead }},
		{"shared/partner-feed.json", func(in *s3.PutObjectInput) {
			in.GrantFullControl = aws.String("id=" + env.A.ID)
			in.GrantRead = aws.String("id=" + env.B.ID)
		}},
	}
	for _, x := range acls {
		if err := PutObjects(ctx, a, bucket, []string{x.key}, x.edit); err != nil {
			return err
		}
	}
	// User B writes into A's bucket without bucket-owner-full-control: B
	// owns the object and A cannot read its ACL.
	if err := GrantBucketWrite(ctx, a, bucket, env.A, env.B); err != nil {
		return err
	}
	if err := PutObjects(ctx, b, bucket, []string{"uploads/from-userb.txt"}, nil); err != nil {
		return fmt.Errorf("as user B: %w", err)
	}
	if err := seedWebsite(ctx, a); err != nil {
		return err
	}
	return seedLocked(ctx, a)
}

// seedWebsite makes the bucket whose objects the policy, not their ACLs,
// opens to anyone.
func seedWebsite(ctx context.Context, a *s3.Client) error {
	bucket := DemoWebsiteBucket
	if err := CreateBucket(ctx, a, bucket); err != nil {
		return err
	}
	if err := PutObjects(ctx, a, bucket, DemoWebsiteKeys, nil); err != nil {
		return err
	}
	if _, err := a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &bucket, Policy: aws.String(fmt.Sprintf(demoWebsitePolicy, bucket))}); err != nil {
		return fmt.Errorf("put the bucket policy of %s: %w", bucket, err)
	}
	return nil
}

// seedLocked makes the bucket whose public object is latent: public-read
// in its ACL, ignored under the bucket's IgnorePublicAcls.
func seedLocked(ctx context.Context, a *s3.Client) error {
	bucket := DemoLockedBucket
	if err := CreateBucket(ctx, a, bucket); err != nil {
		return err
	}
	if lockedAlready(ctx, a) {
		// Seeded before: left alone, so that tests seeding at once never
		// see Block Public Access off for a moment.
		return nil
	}
	// Block Public Access off while the public object is written (a reset
	// of a half-made seed), on after.
	if _, err := a.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: &bucket}); err != nil {
		return fmt.Errorf("reset Block Public Access of %s: %w", bucket, err)
	}
	if err := PutObjects(ctx, a, bucket, Keys("archive/report-", 20), nil); err != nil {
		return err
	}
	if err := PutObjects(ctx, a, bucket, []string{DemoLockedKey}, PublicRead); err != nil {
		return err
	}
	_, err := a.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &bucket,
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
		}})
	if err != nil {
		return fmt.Errorf("turn on Block Public Access of %s: %w", bucket, err)
	}
	return nil
}

// lockedAlready reports whether the locked bucket holds its public object
// and ignores public ACLs.
func lockedAlready(ctx context.Context, a *s3.Client) bool {
	bucket, key := DemoLockedBucket, DemoLockedKey
	out, err := a.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &bucket})
	if err != nil || out.PublicAccessBlockConfiguration == nil || !aws.ToBool(out.PublicAccessBlockConfiguration.IgnorePublicAcls) {
		return false
	}
	_, err = a.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	return err == nil
}
