package s3access

// Permission is an IAM action a call of this package needs: the
// least-privilege policies (docs/iam-policy.md, deploy/template.yaml)
// are checked against this list by tests, so a new call cannot ship
// without its permission.
type Permission struct {
	// Action is the IAM action; Call the request that needs it.
	Action, Call string
	// On is what it applies to: "bucket", "object", "accesspoint" (the
	// account's access points) or "*" (account).
	On string
	// Optional calls degrade gracefully when denied (the effect is in
	// docs/iam-policy.md); the others stop the scan or its objects.
	Optional bool
	// LeftOut: the least-privilege policies do not grant it, on purpose.
	LeftOut bool
}

// ReadPermissions are what reading a bucket's ACLs calls: listing, the
// bucket's context, the objects' ACLs, the account's Block Public Access.
var ReadPermissions = []Permission{
	{Action: "s3:ListBucket", Call: "ListObjectsV2", On: "bucket"},
	{Action: "s3:ListBucketVersions", Call: "ListObjectVersions", On: "bucket"},
	{Action: "s3:GetObjectAcl", Call: "GetObjectAcl", On: "object"},
	{Action: "s3:GetObjectVersionAcl", Call: "GetObjectAcl (versionId)", On: "object"},
	{Action: "s3:GetBucketAcl", Call: "GetBucketAcl", On: "bucket", Optional: true},
	{Action: "s3:GetBucketOwnershipControls", Call: "GetBucketOwnershipControls", On: "bucket", Optional: true},
	{Action: "s3:GetBucketPublicAccessBlock", Call: "GetPublicAccessBlock", On: "bucket", Optional: true},
	{Action: "s3:GetBucketPolicyStatus", Call: "GetBucketPolicyStatus", On: "bucket", Optional: true},
	{Action: "s3:GetBucketPolicy", Call: "GetBucketPolicy", On: "bucket", Optional: true},
	{Action: "s3:GetAccountPublicAccessBlock", Call: "S3 Control GetPublicAccessBlock", On: "*", Optional: true},
	{Action: "s3:ListAccessPoints", Call: "S3 Control ListAccessPoints", On: "*", Optional: true},
	{Action: "s3:GetAccessPoint", Call: "S3 Control GetAccessPoint", On: "accesspoint", Optional: true},
	{Action: "s3:GetAccessPointPolicy", Call: "S3 Control GetAccessPointPolicy", On: "accesspoint", Optional: true},
	// HeadObject only double-checks a "no such key" answer for a version
	// (MinIO's); denied, the answer stands. Not granted by the policies:
	// it would also allow reading the objects themselves.
	{Action: "s3:GetObjectVersion", Call: "HeadObject (versionId)", On: "object", Optional: true, LeftOut: true},
}
