// Package accounts turns the accounts to audit into sessions: roles
// given one by one, an accounts file (one per line, or c7n-org's YAML), or
// the active accounts of an AWS Organization, each with the role to
// assume in it. A session is cached per account and assumed again before
// it expires, so that a run longer than a role session never fails
// halfway on an expired token.
package accounts

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Account is one account to audit and how to enter it.
type Account struct {
	// ID is the account's ID (12 digits on AWS; a tenant's name on
	// radosgw, whose role ARNs name the tenant).
	ID string
	// Name is the account's name (Organizations, or the accounts file).
	Name string
	// RoleARN is the role assumed in the account.
	RoleARN string
	// ExternalID is sent with AssumeRole when the role's trust policy
	// asks for one.
	ExternalID string
	// Regions, when set, are where its buckets are looked for (an
	// accounts file's regions); empty: every bucket ListBuckets names.
	Regions []string
	// Tags are the account's tags (Organizations' or the file's).
	Tags map[string]string
	// OUPath is where Organizations places it: the IDs of its root and
	// organizational units, "r-ab12/ou-ab12-11111111/ou-ab12-22222222".
	OUPath string
	// Buckets, when set, are the account's buckets to scan (an accounts
	// file's buckets), instead of those ListBuckets names.
	Buckets []string
	// Skip, when set, says why the account is listed but not scanned (an
	// Organizations account that is not active).
	Skip string
}

var (
	accountID = regexp.MustCompile(`^[0-9]{12}$`)
	// A role's ARN: partition, account (12 digits, or a radosgw tenant),
	// optional path, name.
	roleARN  = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):iam::([A-Za-z0-9_-]{1,64}):role/((?:[\x21-\x7e]+/)*)([\w+=,.@-]{1,64})$`)
	roleName = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
)

// ParseRoleARN checks a role's ARN and returns the account it is in.
func ParseRoleARN(arn string) (account string, err error) {
	m := roleARN.FindStringSubmatch(arn)
	if m == nil {
		return "", fmt.Errorf("%q is not a role ARN (arn:aws:iam::123456789012:role/NAME)", arn)
	}
	return m[2], nil
}

// RoleARN is the ARN of the role name in account, in partition.
func RoleARN(partition, account, name string) (string, error) {
	if !accountID.MatchString(account) {
		return "", fmt.Errorf("account %q is not a 12-digit account ID", account)
	}
	if !roleName.MatchString(name) {
		return "", fmt.Errorf("role name %q is not a role name (letters, digits and +=,.@_-, at most 64)", name)
	}
	return "arn:" + partition + ":iam::" + account + ":role/" + name, nil
}

// Partition is the partition of a Region: the role ARNs built for an
// organization's accounts are in the caller's partition.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "eu-isoe-"):
		return "aws-iso-e"
	case strings.HasPrefix(region, "us-isof-"):
		return "aws-iso-f"
	case strings.HasPrefix(region, "eusc-"):
		return "aws-eusc"
	}
	return "aws"
}

// FromRoles makes the accounts of roles given one by one (--role-arn).
func FromRoles(arns []string, externalID string) ([]Account, error) {
	var out []Account
	for _, arn := range arns {
		id, err := ParseRoleARN(arn)
		if err != nil {
			return nil, err
		}
		out = append(out, Account{ID: id, RoleARN: arn, ExternalID: externalID})
	}
	return out, Unique(out)
}

// Unique refuses an account listed twice: it would be scanned twice.
func Unique(list []Account) error {
	seen := map[string]int{}
	for i, a := range list {
		if j, ok := seen[a.ID]; ok {
			return fmt.Errorf("account %s is listed twice (entries %d and %d): list each account once", a.ID, j+1, i+1)
		}
		seen[a.ID] = i
	}
	return nil
}

// Select keeps the accounts whose tags hold every one of tags (key=value,
// or key alone for any value) and whose ID or name is not in skip.
func Select(list []Account, tags []string, skip []string) []Account {
	var out []Account
	for _, a := range list {
		if slices.Contains(skip, a.ID) || (a.Name != "" && slices.Contains(skip, a.Name)) {
			continue
		}
		ok := true
		for _, t := range tags {
			k, v, withValue := strings.Cut(t, "=")
			got, has := a.Tags[k]
			if !has || (withValue && got != v) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, a)
		}
	}
	return out
}
