package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/aclscan/aclscan/accounts"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/spf13/pflag"
)

// accountFlags choose the accounts of a run over accounts and how to
// enter them.
type accountFlags struct {
	roleARNs    []string
	externalID  string
	file        string
	accountRole string
	org         bool
	orgRole     string
	ous         []string
	tags        []string
	skip        []string
	concurrency int
}

// maxAccountsFile bounds --accounts FILE.
const maxAccountsFile = 16 << 20

func addAccountFlags(fl *pflag.FlagSet, a *accountFlags) {
	fl.StringArrayVar(&a.roleARNs, "role-arn", nil, "scan through this assumed role (repeatable: one account each); with s3://BUCKET, one role")
	fl.StringVar(&a.externalID, "external-id", "", "the external ID the roles' trust policies ask for")
	fl.StringVar(&a.file, "accounts", "", "FILE of accounts: one per line (account ID or role ARN, then an optional name), or c7n-org's YAML")
	fl.StringVar(&a.accountRole, "account-role", "", "with --accounts, the role NAME assumed in accounts listed by ID alone")
	fl.BoolVar(&a.org, "org", false, "scan the active accounts of the AWS Organization (organizations:ListAccounts), through --org-role")
	fl.StringVar(&a.orgRole, "org-role", "", "with --org, the role NAME assumed in every account")
	fl.StringArrayVar(&a.ous, "ou", nil, "with --org, only the accounts under this root or organizational unit ID (repeatable)")
	fl.StringArrayVar(&a.tags, "tag", nil, "with --org or --accounts, only the accounts with this tag, KEY=VALUE or KEY (repeatable: all must hold)")
	fl.StringArrayVar(&a.skip, "skip-account", nil, "leave out this account ID or name (repeatable)")
	fl.IntVar(&a.concurrency, "account-concurrency", 4, "how many accounts are entered and scanned at once, inside --concurrency")
}

// given reports whether the run is over accounts.
func (a *accountFlags) given() bool { return len(a.roleARNs) > 0 || a.file != "" || a.org }

// check refuses account flags that contradict each other or mean nothing
// without another.
func (a *accountFlags) check(fl *pflag.FlagSet, allBuckets bool) error {
	sources := 0
	for _, on := range []bool{len(a.roleARNs) > 0, a.file != "", a.org} {
		if on {
			sources++
		}
	}
	given := fl.Changed
	switch {
	case sources > 1:
		return usageErrorf("--role-arn, --accounts and --org each name the accounts: give one of them")
	case given("external-id") && sources == 0:
		return usageErrorf("--external-id goes with the roles of --role-arn, --accounts or --org")
	case given("account-role") && a.file == "":
		return usageErrorf("--account-role names the role for the accounts of --accounts FILE")
	case (given("org-role") || len(a.ous) > 0) && !a.org:
		return usageErrorf("--org-role and --ou choose the accounts of --org")
	case a.org && a.orgRole == "":
		return usageErrorf("--org needs --org-role NAME: the role aclscan assumes in every account (deploy/member-role.yaml makes it)")
	case len(a.tags) > 0 && a.file == "" && !a.org:
		return usageErrorf("--tag chooses among the accounts of --org or --accounts")
	case (len(a.skip) > 0 || given("account-concurrency")) && sources == 0:
		return usageErrorf("--skip-account and --account-concurrency apply to a run over accounts (--role-arn, --accounts or --org)")
	case sources > 0 && a.concurrency < 1:
		return usageErrorf("--account-concurrency must be at least 1, got %d", a.concurrency)
	case sources == 1 && !allBuckets && (len(a.roleARNs) != 1):
		return usageErrorf("a run over several accounts scans their buckets: give --all-buckets (or one --role-arn with s3://BUCKET)")
	}
	for _, arn := range a.roleARNs {
		if _, err := accounts.ParseRoleARN(arn); err != nil {
			return usageErrorf("--role-arn: %v", err)
		}
	}
	return nil
}

// resolve lists the accounts the flags name.
func (a *accountFlags) resolve(ctx context.Context, base *s3access.Client) ([]accounts.Account, error) {
	partition := accounts.Partition(base.Region)
	var list []accounts.Account
	var err error
	switch {
	case len(a.roleARNs) > 0:
		list, err = accounts.FromRoles(a.roleARNs, a.externalID)
		if err != nil {
			return nil, usageErrorf("--role-arn: %v", err)
		}
	case a.file != "":
		data, rerr := readLimited(a.file, maxAccountsFile)
		if rerr != nil {
			return nil, usageErrorf("--accounts %s: %v", a.file, rerr)
		}
		list, err = accounts.ParseFile(data, accounts.FileDefaults{RoleName: a.accountRole, ExternalID: a.externalID, Partition: partition})
		if err != nil {
			return nil, usageErrorf("--accounts %s: %v", a.file, err)
		}
		list = accounts.Select(list, a.tags, nil)
	case a.org:
		api := organizations.NewFromConfig(base.AWSConfig())
		list, err = accounts.Organization{RoleName: a.orgRole, ExternalID: a.externalID, Partition: partition, OUs: a.ous, Tags: a.tags}.List(ctx, api)
		if err != nil {
			return nil, &exitError{code: exitIncomplete, msg: "--org: " + s3access.Short(err) + " (the caller must be the organization's management account or a delegated administrator, with organizations:ListAccounts)"}
		}
	}
	list = accounts.Select(list, nil, a.skip)
	if len(list) == 0 {
		return nil, usageErrorf("no account left to scan after --tag and --skip-account")
	}
	return list, nil
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d MiB: not an accounts file", limit>>20)
	}
	return data, nil
}

// stsEndpoint is where roles are assumed (accounts.STSEndpoint), the
// shell's endpoint counted.
func (sh *shell) stsEndpoint(opts s3access.Options) string {
	if opts.EndpointURL == "" {
		opts.EndpointURL = sh.s3.EndpointURL
	}
	return accounts.STSEndpoint(os.Getenv, opts.EndpointURL)
}

// planAccounts enters every account and plans its buckets' scans.
func (sh *shell) planAccounts(ctx context.Context, f *scanFlags, cfg scan.Config, opts s3access.Options, base *s3access.Client) (*accounts.Plan, []scan.BucketScan, []*accounts.Status, error) {
	list, err := f.acct.resolve(ctx, base)
	if err != nil {
		return nil, nil, nil, err
	}
	fmt.Fprintf(sh.stderr, "aclscan: %d accounts to scan, %d at once\n", len(list), f.acct.concurrency)
	plan := &accounts.Plan{
		Accounts:    list,
		Sessions:    &accounts.Sessions{STS: accounts.NewSTS(base.AWSConfig(), sh.stsEndpoint(opts))},
		Options:     opts,
		NewClient:   sh.newClient,
		Config:      cfg,
		Select:      func(b []s3access.Bucket) []s3access.Bucket { return selectBuckets(b, f.include, f.exclude) },
		Concurrency: f.acct.concurrency,
		Spell:       flagSpelling,
	}
	scans, statuses, err := plan.Prepare(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, st := range statuses {
		if st.State == accounts.Denied {
			fmt.Fprintf(sh.stderr, "aclscan: account %s not scanned: %s\n", st.Account.ID, st.Reason)
		}
	}
	return plan, scans, statuses, nil
}

// accountsVerdict is the exit of a run over accounts some of which were
// not scanned whole.
func accountsVerdict(statuses []*accounts.Status) error {
	missed := accounts.NotScanned(statuses)
	if len(missed) == 0 {
		return nil
	}
	return &exitError{code: exitIncomplete, msg: fmt.Sprintf("%d of %d accounts were not scanned whole (the others were); first: %s %s: %s",
		len(missed), len(statuses), missed[0].Account.ID, missed[0].State, missed[0].Reason)}
}

// sessionFor is the one role of --role-arn with s3://BUCKET: the scan's
// client signs with its session, and its records name the account.
func (sh *shell) sessionFor(ctx context.Context, f *scanFlags, opts *s3access.Options, cfg *scan.Config) error {
	list, err := accounts.FromRoles(f.acct.roleARNs, f.acct.externalID)
	if err != nil {
		return usageErrorf("--role-arn: %v", err)
	}
	caller, err := sh.newClient(ctx, *opts)
	if err != nil {
		return err
	}
	sessions := &accounts.Sessions{STS: accounts.NewSTS(caller.AWSConfig(), sh.stsEndpoint(*opts))}
	if err := sessions.Open(ctx, list[0]); err != nil {
		return &exitError{code: exitIncomplete, msg: err.Error()}
	}
	opts.Credentials, opts.AccountID = sessions.For(list[0]), list[0].ID
	cfg.Account = &scan.Account{ID: list[0].ID}
	return nil
}
