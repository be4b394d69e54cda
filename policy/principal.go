package policy

import (
	"strings"
)

// Env is what the evaluation knows of the bucket a policy guards.
type Env struct {
	Bucket string
	// Partition of the ARNs ("aws" when empty; "aws-cn", "aws-us-gov").
	Partition string
	// OwnerAccount is the bucket owner's 12-digit account ID ("" when
	// unknown: then every named account counts as another).
	OwnerAccount string
	// OwnerCanonical is the bucket owner's canonical user ID.
	OwnerCanonical string
	// UsersAreAccounts is set for S3 servers whose users are what AWS
	// accounts are (radosgw: arn:aws:iam::TENANT:user/UID names the user
	// whose canonical ID is UID, or TENANT$UID).
	UsersAreAccounts bool
	// AccessPointARN, when set, makes the policy an access point's: its
	// resources name the access point's ARN and ARN/object/KEY.
	AccessPointARN string
	// Fixed gives condition keys (lower case) a known value for every
	// request judged: a bucket policy seen through an access point has
	// s3:DataAccessPointArn and s3:DataAccessPointAccount; Absent (the
	// value) says a key is known to be missing.
	Fixed map[string]string
}

// Absent is the Fixed value of a key known to be missing from every
// request judged (s3:DataAccessPointArn on a request made to the bucket
// directly).
const Absent = "\x00absent"

// DirectRequests are the keys of requests made to the bucket itself, not
// through an access point: those are judged as the access point's door.
var DirectRequests = map[string]string{"s3:dataaccesspointarn": Absent, "s3:dataaccesspointaccount": Absent}

// resourceARNs are the ARN of the policy's resource (bucket or access
// point) and the head object ARNs start with.
func (e *Env) resourceARNs() (resource, objectHead string) {
	if e.AccessPointARN != "" {
		return e.AccessPointARN, e.AccessPointARN + "/object/"
	}
	bucket := "arn:" + e.partition() + ":s3:::" + e.Bucket
	return bucket, bucket + "/"
}

func (e *Env) partition() string {
	if e.Partition == "" {
		return "aws"
	}
	return e.Partition
}

// principal is one named principal, as the evaluation sees it.
type principal struct {
	// raw is how the policy writes it, with its type ("AWS:..." for all
	// but AWS principals, which are written bare).
	raw string
	// owner: in the bucket owner's own account, or the owner itself.
	owner bool
	// service: an AWS service principal (acts for whoever configured it).
	service bool
	// gone: a unique ID (AIDA..., AROA...), which a policy shows for a
	// principal that was deleted; no one can be it again.
	gone bool
	// canonical is the canonical user ID it names, where known.
	canonical string
	// account: it is named by its AWS account (an account ID, an IAM or
	// STS ARN), which only the owner's account ID tells from others.
	account bool
}

// other reports whether the principal is someone outside the owner's
// account that can act: a finding.
func (p *principal) other() bool { return !p.owner && !p.service && !p.gone }

// namedPrincipals lists the named principals of an element (not "*").
func namedPrincipals(ps Principals, env *Env) []principal {
	var out []principal
	for _, v := range ps.AWS {
		out = append(out, awsPrincipal(v, env))
	}
	for _, v := range ps.CanonicalUser {
		out = append(out, principal{raw: "CanonicalUser:" + v, canonical: v, owner: v == env.OwnerCanonical && v != ""})
	}
	for _, v := range ps.Service {
		out = append(out, principal{raw: "Service:" + v, service: true})
	}
	for _, v := range ps.Federated {
		p := principal{raw: "Federated:" + v}
		if account, ok := arnAccount(v); ok {
			p.owner = env.OwnerAccount != "" && account == env.OwnerAccount
		}
		out = append(out, p)
	}
	return out
}

// awsPrincipal reads an "AWS" principal: an account ID, an ARN of an
// account root, user, role, assumed role or federated user, or a unique ID.
func awsPrincipal(v string, env *Env) principal {
	p := principal{raw: v, account: true}
	if isAccountID(v) {
		p.owner = env.OwnerAccount != "" && v == env.OwnerAccount
		return p
	}
	if isUniqueID(v) {
		p.gone, p.account = true, false
		return p
	}
	account, ok := arnAccount(v)
	if !ok {
		return p // not understood: someone else, reported
	}
	if account == "cloudfront" {
		// A CloudFront origin access identity: the service, for the
		// distributions its owner configured.
		p.service = true
		return p
	}
	if env.OwnerAccount != "" {
		p.owner = account == env.OwnerAccount
		return p
	}
	if env.UsersAreAccounts {
		resource := v[strings.LastIndexByte(v, ':')+1:]
		if user, ok := strings.CutPrefix(resource, "user/"); ok {
			user = user[strings.LastIndexByte(user, '/')+1:]
			p.canonical = user
			if account != "" {
				p.canonical = account + "$" + user
			}
			p.owner = p.canonical == env.OwnerCanonical
		} else if resource == "root" {
			tenant, _, hasTenant := strings.Cut(env.OwnerCanonical, "$")
			p.owner = (hasTenant && tenant == account) || (!hasTenant && account == "")
		}
	}
	return p
}

// arnAccount returns the account field of an IAM or STS ARN.
func arnAccount(v string) (string, bool) {
	parts := strings.SplitN(v, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || (parts[2] != "iam" && parts[2] != "sts") {
		return "", false
	}
	return parts[4], true
}

func isAccountID(v string) bool {
	if len(v) != 12 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// isUniqueID recognises IAM unique IDs (AIDA..., AROA..., AIPA...,
// ANPA..., ASIA...), which stand in a policy for deleted principals.
func isUniqueID(v string) bool {
	if len(v) < 16 || len(v) > 128 || !strings.HasPrefix(v, "A") || strings.ContainsAny(v, ":/") {
		return false
	}
	for _, prefix := range []string{"AIDA", "AROA", "AIPA", "ANPA", "ANVA", "AGPA", "ASIA"} {
		if strings.HasPrefix(v, prefix) {
			for i := 0; i < len(v); i++ {
				c := v[i]
				if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
					return false
				}
			}
			return true
		}
	}
	return false
}
