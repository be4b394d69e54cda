package accounts

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FileDefaults fill what an accounts file leaves out.
type FileDefaults struct {
	// RoleName is assumed in an account listed by its ID alone
	// (--account-role).
	RoleName   string
	ExternalID string
	Partition  string
}

// maxFileAccounts bounds an accounts file: a larger one is a mistake (or
// an attack on the run's memory), not an organization.
const maxFileAccounts = 100000

// ParseFile reads an accounts file, in either of two shapes:
//
//   - one account per line: a role ARN, or an account ID (its role named
//     by d.RoleName), optionally followed by a name; blank lines and
//     lines starting with # are skipped;
//   - YAML in c7n-org's shape: accounts: [{account_id, name, role,
//     external_id, regions, tags}], where role is an ARN or a role name
//     and tags are "key:value" strings (or a mapping); aclscan also reads
//     buckets, the account's buckets to scan instead of all it lists.
//
// Errors name the line or the entry.
func ParseFile(data []byte, d FileDefaults) ([]Account, error) {
	if d.Partition == "" {
		d.Partition = "aws"
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("no accounts in it")
	}
	var list []Account
	var err error
	if bytes.HasPrefix(trimmed, []byte("accounts:")) || bytes.Contains(data, []byte("\naccounts:")) {
		list, err = parseYAML(data, d)
	} else {
		list, err = parseLines(data, d)
	}
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, errors.New("no accounts in it")
	}
	return list, Unique(list)
}

func parseLines(data []byte, d FileDefaults) ([]Account, error) {
	var out []Account
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 64<<10)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if len(out) == maxFileAccounts {
			return nil, fmt.Errorf("more than %d accounts", maxFileAccounts)
		}
		first, name, _ := strings.Cut(text, " ")
		a, err := entry(first, "", strings.TrimSpace(name), d)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	return out, nil
}

// entry makes an account from an ID or a role ARN (and a role to assume
// in an account given by ID).
func entry(idOrARN, role, name string, d FileDefaults) (Account, error) {
	a := Account{Name: name, ExternalID: d.ExternalID}
	switch {
	case strings.HasPrefix(idOrARN, "arn:"):
		id, err := ParseRoleARN(idOrARN)
		if err != nil {
			return a, err
		}
		a.ID, a.RoleARN = id, idOrARN
	case accountID.MatchString(idOrARN):
		a.ID = idOrARN
		if role == "" {
			role = d.RoleName
		}
		if role == "" {
			return a, fmt.Errorf("account %s names no role: give a role ARN instead, or the role to assume in every account (--account-role NAME)", idOrARN)
		}
		arn, err := RoleARN(d.Partition, idOrARN, role)
		if err != nil {
			return a, err
		}
		a.RoleARN = arn
	default:
		return a, fmt.Errorf("%q is neither a 12-digit account ID nor a role ARN", idOrARN)
	}
	return a, nil
}

// c7nAccount is an entry of c7n-org's accounts.yml.
type c7nAccount struct {
	AccountID  string    `yaml:"account_id"`
	Name       string    `yaml:"name"`
	Role       string    `yaml:"role"`
	ExternalID string    `yaml:"external_id"`
	Regions    []string  `yaml:"regions"`
	Tags       yaml.Node `yaml:"tags"`
	// Buckets is aclscan's own field: the account's buckets to scan.
	Buckets []string `yaml:"buckets"`
}

func parseYAML(data []byte, d FileDefaults) ([]Account, error) {
	var doc struct {
		Accounts []c7nAccount `yaml:"accounts"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("YAML: %v", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Accounts) > maxFileAccounts {
		return nil, fmt.Errorf("more than %d accounts", maxFileAccounts)
	}
	out := make([]Account, 0, len(doc.Accounts))
	for i, c := range doc.Accounts {
		where := fmt.Sprintf("accounts[%d]", i)
		if c.Name != "" {
			where += " (" + c.Name + ")"
		}
		var a Account
		var err error
		switch {
		case strings.HasPrefix(c.Role, "arn:"):
			a, err = entry(c.Role, "", c.Name, d)
			if err == nil && c.AccountID != "" && c.AccountID != a.ID {
				err = fmt.Errorf("account_id %s but its role %s is in account %s", c.AccountID, c.Role, a.ID)
			}
		case c.AccountID == "":
			err = errors.New("no account_id")
		default:
			a, err = entry(c.AccountID, c.Role, c.Name, d)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if c.ExternalID != "" {
			a.ExternalID = c.ExternalID
		}
		a.Regions, a.Buckets = c.Regions, c.Buckets
		if a.Tags, err = tags(&c.Tags); err != nil {
			return nil, fmt.Errorf("%s: tags: %w", where, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// tags reads c7n-org's tags: a list of "key:value" (or "key") strings, or
// a mapping.
func tags(n *yaml.Node) (map[string]string, error) {
	switch n.Kind {
	case 0:
		return nil, nil
	case yaml.MappingNode:
		var m map[string]string
		return m, n.Decode(&m)
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return nil, err
		}
		m := make(map[string]string, len(list))
		for _, t := range list {
			k, v, _ := strings.Cut(t, ":")
			m[k] = v
		}
		return m, nil
	}
	return nil, errors.New("a list of key:value or a mapping")
}
