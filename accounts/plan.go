package accounts

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
)

// States of an account in a run: every listed account ends in one.
const (
	Scanned = "scanned" // every bucket scanned whole
	Partial = "partial" // some buckets, or some objects, not scanned
	Denied  = "denied"  // its role could not be assumed, or its buckets not listed
	Skipped = "skipped" // not scanned by choice (not active, a bucket seen in another account)
	// Planned: entered and its buckets planned, not scanned yet (the
	// accounts state machine's plan; its merge says scanned or partial).
	Planned = "planned"
)

// Status is one account's row: what happened to it, and its totals.
type Status struct {
	Account Account
	State   string
	// Reason says why it is not scanned (denied, skipped) or which
	// buckets were not (partial); notes for a scanned one.
	Reason string
	// Buckets are the buckets planned in it.
	Buckets []string
	// Summary is its buckets' total, once scanned.
	Summary *scan.Summary
	// AssumeRoleCalls is how many sessions it took.
	AssumeRoleCalls int
}

// Plan makes the bucket scans of every account.
type Plan struct {
	Accounts []Account
	Sessions *Sessions
	// Options are the clients' options; each account's gets its session
	// and its ID (the account whose Block Public Access applies).
	Options s3access.Options
	// NewClient makes a client (the shell's: its user agent, warnings).
	NewClient func(context.Context, s3access.Options) (*s3access.Client, error)
	// Config is each bucket's configuration (Bucket and Account set here).
	Config scan.Config
	// Select keeps the buckets to scan of those ListBuckets names
	// (--include, --exclude); nil keeps all.
	Select func([]s3access.Bucket) []s3access.Bucket
	// Concurrency is how many accounts are entered at once.
	Concurrency int
	// Spell names settings in errors, as the shell spells them.
	Spell s3access.Spelling

	mu      sync.Mutex
	clients []*s3access.Client
}

// Clients are every client the plan made (their requests are the run's).
func (p *Plan) Clients() []*s3access.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.clients)
}

func (p *Plan) newClient(ctx context.Context, opts s3access.Options) (*s3access.Client, error) {
	c, err := p.NewClient(ctx, opts)
	if err == nil {
		p.mu.Lock()
		p.clients = append(p.clients, c)
		p.mu.Unlock()
	}
	return c, err
}

// Prepare enters each account (its session, its client, its buckets) a
// few at a time and returns the scans of every bucket, account by
// account in the accounts' order, and one status per account. An
// account that cannot be entered is denied, in one line, and the others
// go on; the error is only an interruption. A resumed run enters every
// account again (a session and a ListBuckets each): the buckets its
// checkpoint holds as finished are not scanned again.
func (p *Plan) Prepare(ctx context.Context) ([]scan.BucketScan, []*Status, error) {
	statuses := make([]*Status, len(p.Accounts))
	perAccount := make([][]scan.BucketScan, len(p.Accounts))
	concurrency := max(p.Concurrency, 1)
	slots := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i, a := range p.Accounts {
		statuses[i] = &Status{Account: a}
		switch {
		case a.Skip != "":
			statuses[i].State, statuses[i].Reason = Skipped, a.Skip
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return nil, nil, ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-slots }()
			perAccount[i] = p.enter(ctx, statuses[i])
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	// A bucket named in two accounts is scanned once, in the first.
	owner := map[string]string{}
	var scans []scan.BucketScan
	for i, list := range perAccount {
		var skipped []string
		for _, sc := range list {
			if first, ok := owner[sc.Config.Bucket]; ok {
				skipped = append(skipped, sc.Config.Bucket+" (already planned in account "+first+")")
				continue
			}
			owner[sc.Config.Bucket] = statuses[i].Account.ID
			scans = append(scans, sc)
			statuses[i].Buckets = append(statuses[i].Buckets, sc.Config.Bucket)
		}
		if len(skipped) > 0 {
			statuses[i].Reason = note(statuses[i].Reason, "not scanned here: "+strings.Join(skipped, ", "))
		}
	}
	return scans, statuses, nil
}

// enter opens an account's session and lists its buckets.
func (p *Plan) enter(ctx context.Context, st *Status) []scan.BucketScan {
	a := st.Account
	defer func() { st.AssumeRoleCalls = p.Sessions.Calls(a) }()
	if err := p.Sessions.Open(ctx, a); err != nil {
		st.State, st.Reason = Denied, err.Error()
		return nil
	}
	opts := p.Options
	opts.Credentials, opts.AccountID = p.Sessions.For(a), a.ID
	base, err := p.newClient(ctx, opts)
	if err != nil {
		st.State, st.Reason = Denied, fmt.Sprintf("account %s: %v", a.ID, err)
		return nil
	}
	var buckets []s3access.Bucket
	if len(a.Buckets) > 0 {
		for _, name := range a.Buckets {
			buckets = append(buckets, s3access.Bucket{Name: name})
		}
	} else {
		listed, err := base.ListBuckets(ctx)
		if err != nil {
			se := &scan.Error{Op: "list the buckets of account " + a.ID + " (ListBuckets)", Err: err}
			st.State, st.Reason = Denied, se.Explain(p.Spell)
			return nil
		}
		if len(listed) == 0 {
			st.Reason = "ListBuckets named no bucket"
		}
		if p.Select != nil {
			listed = p.Select(listed)
		}
		for _, b := range listed {
			if len(a.Regions) == 0 || b.Region == "" || slices.Contains(a.Regions, b.Region) {
				buckets = append(buckets, b)
			}
		}
	}
	clients := map[string]*s3access.Client{"": base, base.Region: base}
	account := &scan.Account{ID: a.ID, Name: a.Name, OUPath: a.OUPath} // shared by its results
	var scans []scan.BucketScan
	for _, b := range buckets {
		client := clients[b.Region]
		if client == nil {
			o := opts
			o.Region = b.Region
			if client, err = p.newClient(ctx, o); err != nil {
				st.State, st.Reason = Partial, note(st.Reason, fmt.Sprintf("no client for %s: %v", b.Region, err))
				continue
			}
			clients[b.Region] = client
		}
		cfg := p.Config
		cfg.Bucket, cfg.Account = b.Name, account
		scans = append(scans, scan.BucketScan{API: client, Config: cfg, Region: client.Region, Group: a.ID})
	}
	return scans
}

// Finish gives each account its buckets' summaries (sums in scans'
// order, as RunBuckets returns them) and its final state.
func Finish(statuses []*Status, scans []scan.BucketScan, sums []*scan.Summary, spell s3access.Spelling) {
	byAccount := map[string][]*scan.Summary{}
	for i, sc := range scans {
		if i < len(sums) {
			byAccount[sc.Group] = append(byAccount[sc.Group], sums[i])
		}
	}
	for _, st := range statuses {
		if st.State == Denied || st.State == Skipped {
			continue
		}
		own := byAccount[st.Account.ID]
		st.Summary = scan.Total(own)
		var missing []string
		for i, sum := range own {
			switch {
			case sum == nil:
				missing = append(missing, st.Buckets[i]+" (not started)")
			case sum.Failure != nil:
				missing = append(missing, sum.Bucket+": "+sum.Failure.Explain(spell))
			case !sum.Complete:
				missing = append(missing, sum.Bucket+" (incomplete)")
			}
		}
		if len(missing) > 0 || st.State == Partial {
			st.State = Partial
			st.Reason = note(st.Reason, strings.Join(missing, "; "))
			continue
		}
		st.State = Scanned
	}
}

// NotScanned are the statuses of accounts denied or partial: what makes a
// run incomplete.
func NotScanned(statuses []*Status) []*Status {
	var out []*Status
	for _, st := range statuses {
		if st.State == Denied || st.State == Partial {
			out = append(out, st)
		}
	}
	return out
}

func note(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// Summaries are the statuses as the report's account rows.
func Summaries(statuses []*Status) []scan.AccountSummary {
	out := make([]scan.AccountSummary, len(statuses))
	for i, st := range statuses {
		out[i] = scan.AccountSummary{ID: st.Account.ID, Name: st.Account.Name, OUPath: st.Account.OUPath, State: st.State, Reason: st.Reason,
			Buckets: len(st.Buckets), AssumeRoleCalls: st.AssumeRoleCalls, Total: st.Summary}
	}
	return out
}
