package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/aclscan/aclscan/accounts"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/scan"
)

// A run over accounts (the accounts state machine): the plan step writes
// plan.json, the buckets to scan with the role each is read through, and
// accounts.json, one row per listed account; each bucket is then an
// async-style scan in buckets/<bucket>/ (scan.json and its parts).
const (
	planKey     = "plan.json"
	accountsKey = "accounts.json"
	bucketsDir  = "buckets/"
)

// PlanItem is one bucket of a run over accounts: what the Distributed
// Map's ItemReader hands each child.
type PlanItem struct {
	Bucket    string `json:"bucket"`
	RoleARN   string `json:"role_arn"`
	AccountID string `json:"account_id"`
}

// BucketRun is the folder of a planned bucket's scan in the run.
func BucketRun(bucket string) string { return bucketsDir + bucket + "/" }

// SavePlan writes a run's plan and its accounts' rows.
func SavePlan(ctx context.Context, store Store, items []PlanItem, accounts []scan.AccountSummary) error {
	if items == nil {
		items = []PlanItem{} // a JSON array for the ItemReader, even empty
	}
	b, err := json.Marshal(items)
	if err != nil {
		return err
	}
	if err := store.Put(ctx, planKey, b); err != nil {
		return fmt.Errorf("save the plan: %w", err)
	}
	rows := make([]report.AccountRecord, len(accounts))
	for i, a := range accounts {
		rows[i] = report.NewAccountRecord(a)
	}
	if b, err = json.Marshal(rows); err != nil {
		return err
	}
	if err := store.Put(ctx, accountsKey, b); err != nil {
		return fmt.Errorf("save the accounts: %w", err)
	}
	return nil
}

// subStore is a store rooted at dir of another.
type subStore struct {
	Store
	dir string
}

func (s subStore) Put(ctx context.Context, key string, body []byte) error {
	return s.Store.Put(ctx, s.dir+key, body)
}
func (s subStore) Get(ctx context.Context, key string) ([]byte, error) {
	return s.Store.Get(ctx, s.dir+key)
}
func (s subStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	return s.Store.Open(ctx, s.dir+key)
}
func (s subStore) Where(key string) string { return s.Store.Where(s.dir + key) }
func (s subStore) List(ctx context.Context, prefix string) ([]string, error) {
	keys, err := s.Store.List(ctx, s.dir+prefix)
	for i := range keys {
		keys[i] = strings.TrimPrefix(keys[i], s.dir)
	}
	return keys, err
}

// IsAccountsRun reports whether the run's folder holds a plan.
func IsAccountsRun(ctx context.Context, store Store) bool {
	_, err := store.Get(ctx, planKey)
	return err == nil
}

// MergeAccounts merges a run over accounts: every planned bucket's scan
// (as Merge merges one), its records naming their account, the total
// holding each bucket's summary and each account's row with its
// buckets' total. A planned bucket without a finished scan is named in
// Missing, and its account is partial.
func MergeAccounts(ctx context.Context, store Store, sink scan.Sink) (*Merged, error) {
	raw, err := store.Get(ctx, planKey)
	if err != nil {
		return nil, err
	}
	var items []PlanItem
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%s: %v", store.Where(planKey), err)
	}
	var rows []report.AccountRecord
	if raw, err = store.Get(ctx, accountsKey); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, fmt.Errorf("%s: %v", store.Where(accountsKey), err)
	}
	named := map[string]*scan.Account{} // shared by the account's records
	for _, row := range rows {
		named[row.ID] = &scan.Account{ID: row.ID, Name: row.Name, OUPath: row.OUPath}
	}
	m := &Merged{}
	var sums []*scan.Summary
	perAccount := map[string][]*scan.Summary{}
	incomplete := map[string][]string{}
	for _, it := range items {
		account := named[it.AccountID]
		if account == nil {
			account = &scan.Account{ID: it.AccountID}
		}
		tag := scan.SinkFunc(func(r *scan.Result) error {
			r.Account = account
			return sink.Write(r)
		})
		sub, err := Merge(ctx, subStore{Store: store, dir: BucketRun(it.Bucket)}, tag)
		if errors.Is(err, fs.ErrNotExist) || (err != nil && strings.Contains(err.Error(), "holds no aclscan batch reports")) {
			m.Missing = append(m.Missing, "bucket "+it.Bucket+" (account "+it.AccountID+"): not scanned yet")
			incomplete[it.AccountID] = append(incomplete[it.AccountID], it.Bucket+" (not scanned)")
			continue
		}
		if err != nil {
			return m, fmt.Errorf("bucket %s: %w", it.Bucket, err)
		}
		sum := sub.Total
		sum.Bucket = it.Bucket
		for _, miss := range sub.Missing {
			m.Missing = append(m.Missing, "bucket "+it.Bucket+": "+miss)
		}
		for _, inc := range sub.Incomplete {
			m.Incomplete = append(m.Incomplete, it.Bucket+"/"+inc)
		}
		if len(sub.Missing) > 0 || len(sub.Incomplete) > 0 {
			incomplete[it.AccountID] = append(incomplete[it.AccountID], it.Bucket+" (incomplete)")
		}
		m.Batches += sub.Batches
		m.RiskyOnly = m.RiskyOnly || sub.RiskyOnly
		sums = append(sums, sum)
		perAccount[it.AccountID] = append(perAccount[it.AccountID], sum)
	}
	m.Total = scan.Total(sums)
	for _, row := range rows {
		a := row.AccountSummary()
		if row.State == accounts.Planned || row.State == accounts.Scanned || row.State == accounts.Partial {
			a.Total = scan.Total(perAccount[row.ID])
			if a.State == accounts.Planned {
				a.State = accounts.Scanned
			}
			if missing := incomplete[row.ID]; len(missing) > 0 {
				a.State = accounts.Partial
				a.Reason = strings.TrimPrefix(a.Reason+"; "+strings.Join(missing, ", "), "; ")
			}
		}
		if a.State == accounts.Denied || a.State == accounts.Partial {
			m.Missing = append(m.Missing, "account "+a.ID+" "+a.State+": "+a.Reason)
		}
		m.Total.Accounts = append(m.Total.Accounts, a)
	}
	m.Total.Complete = len(m.Missing) == 0 && len(m.Incomplete) == 0
	return m, nil
}
