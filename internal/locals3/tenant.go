package locals3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
)

// Tenant is a radosgw tenant standing in for another AWS account: a user
// owning its buckets, and a role in it that user A may assume (the role
// aclscan enters the "account" through), at Env.STSURL.
type Tenant struct {
	Name    string
	Owner   User
	RoleARN string
}

// RoleReadPermissions are what the tenant's role may do: aclscan's reads
// (radosgw knows no s3:GetBucketOwnershipControls; its policy parser
// refuses it).
var RoleReadPermissions = []string{"s3:ListAllMyBuckets", "s3:ListBucket", "s3:ListBucketVersions", "s3:GetObjectAcl", "s3:GetObjectVersionAcl",
	"s3:GetBucketAcl", "s3:GetBucketPolicy", "s3:GetBucketPolicyStatus", "s3:GetBucketPublicAccessBlock"}

// NewTenant creates tenant name (its owner and the role "aclscan", which
// user A may assume and which may read as RoleReadPermissions say).
// Names are made unique per call: tests share one radosgw.
func NewTenant(ctx context.Context, env Env, name string) (Tenant, error) {
	if env.STSURL == "" {
		return Tenant{}, fmt.Errorf("the local S3's environment lacks LOCAL_S3_STS_URL: restart it with scripts/local-s3 stop && scripts/local-s3 start")
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	t := Tenant{Name: name + hex.EncodeToString(suffix[:])}
	key := strings.ToUpper("T" + hex.EncodeToString(suffix[:]) + "OWNERKEY000000")[:20]
	t.Owner = User{ID: t.Name + "$owner", AccessKey: key, SecretKey: "secret-of-" + t.Name}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam:::user/` + env.A.ID + `"]},"Action":["sts:AssumeRole"]}]}`
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["` + strings.Join(RoleReadPermissions, `","`) + `"],"Resource":"arn:aws:s3:::*"}]}`
	steps := [][]string{
		{"user", "create", "--tenant", t.Name, "--uid", "owner", "--display-name", "owner of " + t.Name, "--access-key", t.Owner.AccessKey, "--secret-key", t.Owner.SecretKey},
		{"role", "create", "--tenant", t.Name, "--role-name", "aclscan", "--path", "/", "--assume-role-policy-doc", trust},
		{"role-policy", "put", "--tenant", t.Name, "--role-name", "aclscan", "--policy-name", "read", "--policy-doc", policy},
	}
	for _, s := range steps {
		// No admin socket: tests run radosgw-admin side by side, and would
		// race for its one path.
		out, err := exec.CommandContext(ctx, "radosgw-admin", append([]string{"-c", env.Conf, "--admin-socket", ""}, s...)...).CombinedOutput()
		// A policy radosgw cannot parse is said, with exit status 0.
		if err != nil || strings.Contains(string(out), "failed to parse") {
			return t, fmt.Errorf("radosgw-admin %s %s: %v: %s", s[0], s[1], err, strings.TrimSpace(string(out)))
		}
	}
	t.RoleARN = "arn:aws:iam::" + t.Name + ":role/aclscan"
	return t, nil
}
