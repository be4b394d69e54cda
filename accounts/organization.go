package accounts

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

// OrganizationsAPI is what listing an organization calls.
type OrganizationsAPI interface {
	organizations.ListAccountsAPIClient
	organizations.ListAccountsForParentAPIClient
	organizations.ListOrganizationalUnitsForParentAPIClient
	organizations.ListTagsForResourceAPIClient
}

// Organization says which accounts of an organization to audit and how.
type Organization struct {
	// RoleName is the role assumed in every account (--org-role).
	RoleName   string
	ExternalID string
	Partition  string
	// OUs keeps the accounts under any of these organizational units (or
	// roots), at any depth; empty: every account.
	OUs []string
	// Tags keeps the accounts holding every one of these tags (key=value,
	// or key for any value); each costs a ListTagsForResource per account.
	Tags []string
}

// List lists the organization's accounts with ListAccounts (every page),
// those under o.OUs with ListAccountsForParent down the units' tree. An
// account that is not active is kept with Skip saying why: every listed
// account is accounted for.
func (o Organization) List(ctx context.Context, api OrganizationsAPI) ([]Account, error) {
	if o.RoleName == "" {
		return nil, fmt.Errorf("name the role to assume in every account (--org-role NAME)")
	}
	if o.Partition == "" {
		o.Partition = "aws"
	}
	var found []types.Account
	if len(o.OUs) == 0 {
		p := organizations.NewListAccountsPaginator(api, &organizations.ListAccountsInput{})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list the organization's accounts (organizations:ListAccounts): %w", err)
			}
			found = append(found, page.Accounts...)
		}
	} else {
		seen := map[string]bool{}
		for _, ou := range o.OUs {
			if err := o.under(ctx, api, ou, &found, seen); err != nil {
				return nil, err
			}
		}
	}
	out := make([]Account, 0, len(found))
	for _, f := range found {
		id := deref(f.Id)
		arn, err := RoleARN(o.Partition, id, o.RoleName)
		if err != nil {
			return nil, fmt.Errorf("Organizations listed account %q: %w", id, err)
		}
		a := Account{ID: id, Name: deref(f.Name), RoleARN: arn, ExternalID: o.ExternalID, OUPath: ouPath(f.Paths, id)}
		state := string(f.State)
		if state == "" {
			state = string(f.Status) // before State (Status was retired in 2026)
		}
		if state != "ACTIVE" {
			a.Skip = "not active in the organization (" + strings.ToLower(state) + ")"
		}
		out = append(out, a)
	}
	if len(o.Tags) > 0 {
		for i := range out {
			var err error
			if out[i].Tags, err = o.tags(ctx, api, out[i].ID); err != nil {
				return nil, err
			}
		}
		var kept []Account
		for _, a := range out {
			if len(Select([]Account{a}, o.Tags, nil)) == 1 {
				kept = append(kept, a)
			}
		}
		out = kept
	}
	return out, Unique(out)
}

// under collects the accounts under parent, its units' accounts too.
func (o Organization) under(ctx context.Context, api OrganizationsAPI, parent string, found *[]types.Account, seen map[string]bool) error {
	if seen[parent] {
		return nil
	}
	seen[parent] = true
	p := organizations.NewListAccountsForParentPaginator(api, &organizations.ListAccountsForParentInput{ParentId: &parent})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list the accounts of %s (organizations:ListAccountsForParent): %w", parent, err)
		}
		for _, a := range page.Accounts {
			if !seen[deref(a.Id)] {
				seen[deref(a.Id)] = true
				*found = append(*found, a)
			}
		}
	}
	units := organizations.NewListOrganizationalUnitsForParentPaginator(api, &organizations.ListOrganizationalUnitsForParentInput{ParentId: &parent})
	for units.HasMorePages() {
		page, err := units.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list the units of %s (organizations:ListOrganizationalUnitsForParent): %w", parent, err)
		}
		for _, u := range page.OrganizationalUnits {
			if err := o.under(ctx, api, deref(u.Id), found, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// tags are an account's tags (ListTagsForResource, every page).
func (o Organization) tags(ctx context.Context, api OrganizationsAPI, id string) (map[string]string, error) {
	m := map[string]string{}
	p := organizations.NewListTagsForResourcePaginator(api, &organizations.ListTagsForResourceInput{ResourceId: &id})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("the tags of account %s (organizations:ListTagsForResource): %w", id, err)
		}
		for _, t := range page.Tags {
			m[deref(t.Key)] = deref(t.Value)
		}
	}
	return m, nil
}

// ouPath is the root and units above an account from its Paths
// ("o-org/r-root/ou-a/ou-b/ACCOUNT/"): "r-root/ou-a/ou-b".
func ouPath(paths []string, id string) string {
	if len(paths) == 0 {
		return ""
	}
	parts := strings.Split(strings.Trim(paths[0], "/"), "/")
	if len(parts) > 0 && strings.HasPrefix(parts[0], "o-") {
		parts = parts[1:]
	}
	if len(parts) > 0 && parts[len(parts)-1] == id {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, "/")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
