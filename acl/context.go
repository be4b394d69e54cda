package acl

// Object Ownership settings, as S3 spells them.
const (
	// OwnerEnforced disables ACLs: S3 ignores every ACL, and the bucket
	// owner owns every object.
	OwnerEnforced = "BucketOwnerEnforced"
	// OwnerPreferred: the bucket owner takes new objects written with the
	// bucket-owner-full-control ACL; ACLs apply.
	OwnerPreferred = "BucketOwnerPreferred"
	// ObjectWriter: the uploader owns the object; ACLs apply. A bucket
	// without ownership controls behaves so.
	ObjectWriter = "ObjectWriter"
)

// PublicAccessBlock is one level's Block Public Access settings.
type PublicAccessBlock struct {
	BlockPublicACLs       bool `json:"block_public_acls"`
	IgnorePublicACLs      bool `json:"ignore_public_acls"`
	BlockPublicPolicy     bool `json:"block_public_policy"`
	RestrictPublicBuckets bool `json:"restrict_public_buckets"`
}

// Reading is one bucket or account setting as it was read: its value, or
// the one-line reason it could not be read (Known false). A setting not
// read is judged conservatively: it blocks nothing.
type Reading[T any] struct {
	Value   T
	Known   bool
	Problem string
	// Err is the failure behind Problem when a request failed (a shell
	// may retry what may pass by itself: throttling, a 5xx answer).
	Err error
}

// Read returns a known reading of v.
func Read[T any](v T) Reading[T] { return Reading[T]{Value: v, Known: true} }

// Unread returns the reading of a setting that could not be read.
func Unread[T any](problem string) Reading[T] { return Reading[T]{Problem: problem} }

// BucketContext is what is known of a bucket's settings that decides
// what its ACLs actually grant.
type BucketContext struct {
	// Bucket is the bucket's name (the policy's resources name it).
	Bucket string
	// Owner is the bucket owner's canonical ID ("" when unknown).
	Owner string
	// ACL is the bucket's own ACL (GetBucketAcl).
	ACL Reading[[]Grant]
	// Ownership is the Object Ownership setting (ObjectWriter when the
	// bucket has no ownership controls).
	Ownership Reading[string]
	// BucketBlock and AccountBlock are the Block Public Access settings of
	// the bucket and of its account.
	BucketBlock  Reading[PublicAccessBlock]
	AccountBlock Reading[PublicAccessBlock]
	// PolicyPublic says whether the bucket policy makes the bucket public
	// (GetBucketPolicyStatus; false without a policy).
	PolicyPublic Reading[bool]
	// Policy is the bucket policy as GetBucketPolicy returned it ("" when
	// the bucket has none). A policy that could not be read leaves every
	// object's exposure through it unjudged (PolicyUnjudged).
	Policy Reading[string]
	// AccessPoints are the bucket's access points in the owner's account
	// (S3 Control ListAccessPoints), each with its settings and policy.
	AccessPoints Reading[[]AccessPoint]
	// Account is the bucket owner's 12-digit AWS account ID where known
	// (the account whose Block Public Access settings were read): it
	// tells the owner's own principals in the policy from other
	// accounts'. "" when unknown: every named account is then another.
	Account string
	// Partition is the ARN partition of the bucket ("aws" when empty).
	Partition string
	// UsersAreAccounts is set for S3 servers that are not AWS, whose users
	// stand where AWS has accounts (radosgw: a policy's
	// arn:aws:iam::TENANT:user/UID is the user with canonical ID UID).
	UsersAreAccounts bool
	// ACLReadsEffective is true where GetObjectAcl and GetBucketAcl answer
	// with the effective ACL rather than the stored one (AWS): under
	// IgnorePublicAcls the public grants are left out of the answer.
	ACLReadsEffective bool
}

// AccessPoint is one access point of a bucket, as read.
type AccessPoint struct {
	Name string
	ARN  string
	// NetworkOrigin is "Internet" or "VPC" (then VpcID names the VPC:
	// only requests from it reach the access point).
	NetworkOrigin string
	VpcID         string
	// Block is the access point's own Block Public Access.
	Block Reading[PublicAccessBlock]
	// Policy is its policy ("" when it has none).
	Policy Reading[string]
}

// RestrictsPublicBuckets reports whether a known Block Public Access
// setting, of the bucket or of the account, limits a public policy to
// the owner's account and AWS services.
func (c *BucketContext) RestrictsPublicBuckets() bool {
	return (c.BucketBlock.Known && c.BucketBlock.Value.RestrictPublicBuckets) ||
		(c.AccountBlock.Known && c.AccountBlock.Value.RestrictPublicBuckets)
}

// ACLsDisabled reports whether the bucket is known to ignore ACLs
// (Object Ownership BucketOwnerEnforced).
func (c *BucketContext) ACLsDisabled() bool {
	return c.Ownership.Known && c.Ownership.Value == OwnerEnforced
}

// IgnoresPublicACLs reports whether a known Block Public Access setting,
// of the bucket or of the account, makes S3 ignore public ACLs.
func (c *BucketContext) IgnoresPublicACLs() bool {
	return (c.BucketBlock.Known && c.BucketBlock.Value.IgnorePublicACLs) ||
		(c.AccountBlock.Known && c.AccountBlock.Value.IgnorePublicACLs)
}

// Blocking reasons, part of the output contract (blocked_by).
const (
	BlockedByAccountIgnorePublicACLs = "account:IgnorePublicAcls"
	BlockedByBucketIgnorePublicACLs  = "bucket:IgnorePublicAcls"
	BlockedByOwnerEnforced           = "bucket:BucketOwnerEnforced"
	BlockedByAccountRestrict         = "account:RestrictPublicBuckets"
	BlockedByBucketRestrict          = "bucket:RestrictPublicBuckets"
	// BlockedByPolicyPrefix names an explicit deny: "policy:" + its Sid
	// (or #index).
	BlockedByPolicyPrefix = "policy:"
)

// PublicKinds are what S3 calls public in an ACL: a grant to AllUsers or
// to AuthenticatedUsers. IgnorePublicAcls ignores exactly these.
const PublicKinds Findings = 1<<Public | 1<<Authenticated

// GrantKinds are the findings that exist only because ACLs apply; with
// ACLs disabled (BucketOwnerEnforced) none of them grants anything, and
// the bucket owner owns every object.
const GrantKinds Findings = 1<<Public | 1<<Authenticated | 1<<CrossAccount | 1<<ForeignOwner

// blockRule is one setting that makes some finding kinds ineffective.
type blockRule struct {
	reason string
	kinds  Findings
}

// NewJudge returns the judge of a bucket's ACLs given its context. S3
// applies the most restrictive combination of the account's and the
// bucket's settings, so each setting that is on blocks on its own; a
// setting that could not be read blocks nothing.
func NewJudge(c *BucketContext) *Judge {
	j := &Judge{BucketOwner: c.Owner}
	j.setPolicy(c)
	j.setAccessPoints(c)
	var rules []blockRule
	if c.AccountBlock.Known && c.AccountBlock.Value.IgnorePublicACLs {
		rules = append(rules, blockRule{BlockedByAccountIgnorePublicACLs, PublicKinds})
	}
	if c.BucketBlock.Known && c.BucketBlock.Value.IgnorePublicACLs {
		rules = append(rules, blockRule{BlockedByBucketIgnorePublicACLs, PublicKinds})
	}
	if c.ACLsDisabled() {
		rules = append(rules, blockRule{BlockedByOwnerEnforced, GrantKinds})
	}
	for _, r := range rules {
		j.blocked |= r.kinds
	}
	// One reasons list per set of blocked kinds, built once: judging an
	// object then allocates nothing.
	for set := range j.reasons {
		blocked := Findings(set) & j.blocked
		if blocked == 0 {
			continue
		}
		for _, r := range rules {
			if r.kinds.Any(blocked) {
				j.reasons[set] = append(j.reasons[set], r.reason)
			}
		}
	}
	return j
}

// Judge classifies ACLs with what is known of their bucket: its owner (""
// when unknown: owner-dependent kinds are then not judged) and the
// settings that make some findings ineffective (see NewJudge).
type Judge struct {
	BucketOwner string
	blocked     Findings
	reasons     [1 << NumKinds][]string
	doors       doors
}

// Findings returns the findings of an object's ACL (see Classify).
func (j *Judge) Findings(objectOwner string, grants []Grant) Findings {
	return Classify(j.BucketOwner, objectOwner, grants)
}

// Effective returns the findings that grant access now, and the reasons
// the others do not (nil when none is blocked). The reasons are shared:
// do not modify them.
func (j *Judge) Effective(f Findings) (Findings, []string) {
	return f &^ j.blocked, j.reasons[f&j.blocked]
}

// Blocked returns the finding kinds the bucket's settings make ineffective.
func (j *Judge) Blocked() Findings { return j.blocked }
