package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"time"

	"github.com/aclscan/aclscan/accounts"
	"github.com/aclscan/aclscan/batch"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
)

// The accounts state machine (deploy/statemachines/accounts.asl.json):
// a plan step enters every account and lists its buckets, then a
// Distributed Map runs one child per bucket, each looping over scan parts
// until its bucket is done. `aclscan report` merges the run's folder.

// planEvent asks for a run's plan: the accounts (their roles, and the
// buckets to scan instead of those ListBuckets names) or the
// organization's, through one role name.
type planEvent struct {
	RunID        string `json:"run_id"`
	PlanAccounts struct {
		Accounts []struct {
			RoleARN string   `json:"role_arn"`
			Name    string   `json:"name"`
			Buckets []string `json:"buckets"`
		} `json:"accounts"`
		Org *struct {
			RoleName string   `json:"role_name"`
			OUs      []string `json:"ous"`
			Tags     []string `json:"tags"`
		} `json:"org"`
	} `json:"plan_accounts"`
}

// planResponse says where the plan is (the ItemReader's key) and what
// became of the accounts.
type planResponse struct {
	PlanKey  string         `json:"plan_key"`
	Buckets  int            `json:"buckets"`
	Accounts map[string]int `json:"accounts"`
}

// runIDPattern bounds a run's id: it becomes a folder of the report bucket.
var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,160}$`)

// maxPlanAccounts bounds the accounts of one plan.
const maxPlanAccounts = 10000

// planAccounts enters each account through its role (ALLOWED_ROLES bounds
// which), lists its buckets (ALLOWED_BUCKETS bounds which are kept), and
// saves the plan and the accounts' rows in the run's folder. An account
// whose role cannot be assumed is a denied row, not a failed plan.
func (h *handler) planAccounts(ctx context.Context, raw []byte) (*planResponse, error) {
	var ev planEvent
	if err := decodeStrict(raw, &ev); err != nil {
		return nil, refuse("%v; a plan is {\"run_id\", \"plan_accounts\": {\"accounts\": [{\"role_arn\", \"buckets\"}]} or {\"org\": {\"role_name\"}}}", err)
	}
	if !runIDPattern.MatchString(ev.RunID) {
		return nil, refuse("run_id %q: letters, digits, '.', '_' and '-', at most 160", ev.RunID)
	}
	p := ev.PlanAccounts
	var list []accounts.Account
	switch {
	case p.Org != nil && len(p.Accounts) > 0:
		return nil, refuse("plan_accounts: give accounts or org, not both")
	case p.Org != nil:
		org := accounts.Organization{RoleName: p.Org.RoleName, ExternalID: h.config.externalID, Partition: accounts.Partition(h.client.Region),
			OUs: p.Org.OUs, Tags: p.Org.Tags}
		var err error
		if list, err = org.List(ctx, organizations.NewFromConfig(h.client.AWSConfig())); err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
	default:
		for _, a := range p.Accounts {
			id, err := accounts.ParseRoleARN(a.RoleARN)
			if err != nil {
				return nil, refuse("plan_accounts: %v", err)
			}
			list = append(list, accounts.Account{ID: id, Name: a.Name, RoleARN: a.RoleARN, ExternalID: h.config.externalID, Buckets: a.Buckets})
		}
		if err := accounts.Unique(list); err != nil {
			return nil, refuse("plan_accounts: %v", err)
		}
	}
	if len(list) == 0 || len(list) > maxPlanAccounts {
		return nil, refuse("plan_accounts: %d accounts; a plan holds 1 to %d", len(list), maxPlanAccounts)
	}
	for _, a := range list {
		if a.Skip == "" {
			if _, err := h.config.checkRole(a.RoleARN); err != nil {
				return nil, err
			}
		}
	}
	store, where, err := h.runStore("", "", ev.RunID)
	if err != nil {
		return nil, err
	}
	plan := &accounts.Plan{
		Accounts: list,
		Sessions: h.sessionsFor(),
		Options:  h.config.clientOptions(),
		NewClient: func(ctx context.Context, o s3access.Options) (*s3access.Client, error) {
			return s3access.New(ctx, o)
		},
		Select: func(buckets []s3access.Bucket) []s3access.Bucket {
			var kept []s3access.Bucket
			for _, b := range buckets {
				if h.config.checkBucket(b.Name) == nil {
					kept = append(kept, b)
				}
			}
			return kept
		},
		Concurrency: 8,
		Spell:       envSpelling,
	}
	scans, statuses, err := plan.Prepare(ctx)
	if err != nil {
		return nil, err
	}
	roleOf := map[string]string{}
	for _, st := range statuses {
		roleOf[st.Account.ID] = st.Account.RoleARN
		if st.State == "" {
			st.State = accounts.Planned // the merge says scanned or partial
		}
	}
	items := make([]batch.PlanItem, 0, len(scans))
	for _, sc := range scans {
		if err := h.config.checkBucket(sc.Config.Bucket); err != nil {
			continue // named in the file, outside ALLOWED_BUCKETS
		}
		items = append(items, batch.PlanItem{Bucket: sc.Config.Bucket, RoleARN: roleOf[sc.Group], AccountID: sc.Group})
	}
	if err := batch.SavePlan(ctx, store, items, accounts.Summaries(statuses)); err != nil {
		return nil, err
	}
	resp := &planResponse{PlanKey: h.config.reportPrefix + "/" + ev.RunID + "/plan.json", Buckets: len(items), Accounts: map[string]int{}}
	for _, st := range statuses {
		resp.Accounts[st.State]++
	}
	fmt.Printf("aclscan: plan %s: %d buckets in %d accounts %v\n", where, len(items), len(statuses), resp.Accounts)
	return resp, nil
}

// bucketPartEvent is one part of a planned bucket's scan: what the
// accounts state machine's child sends, again until done.
type bucketPartEvent struct {
	BucketPart struct {
		RunID     string `json:"run_id"`
		Bucket    string `json:"bucket"`
		RoleARN   string `json:"role_arn"`
		AccountID string `json:"account_id"`
	} `json:"bucket_part"`
}

// bucketPartResponse tells the child's loop whether to send another part.
type bucketPartResponse struct {
	Bucket string `json:"bucket"`
	Done   bool   `json:"done"`
	Parts  int    `json:"parts"`
	Error  string `json:"error,omitempty"`
}

// bucketPart scans a planned bucket, from where its state stands, until
// the invocation nears its deadline; the state (in the run's
// buckets/BUCKET/) says whether it is done. A part that fails is an
// error: the child's Retry sends it again from the same state.
func (h *handler) bucketPart(ctx context.Context, inv *invocation, raw []byte) (*bucketPartResponse, error) {
	var ev bucketPartEvent
	if err := decodeStrict(raw, &ev); err != nil {
		return nil, refuse("%v; a bucket part is {\"bucket_part\": {\"run_id\", \"bucket\", \"role_arn\", \"account_id\"}}", err)
	}
	b := ev.BucketPart
	if !runIDPattern.MatchString(b.RunID) {
		return nil, refuse("run_id %q: letters, digits, '.', '_' and '-', at most 160", b.RunID)
	}
	if b.RoleARN == "" {
		return nil, refuse("bucket_part: no role_arn: a planned bucket is read through its account's role")
	}
	settings := Event{Bucket: b.Bucket, RoleARN: b.RoleARN}
	cfg, err := h.scanConfig(settings) // the bucket and the role allowed
	if err != nil {
		return nil, err
	}
	if b.AccountID != "" && b.AccountID != cfg.Account.ID {
		return nil, refuse("account_id %s is not the account of role %s", b.AccountID, b.RoleARN)
	}
	run := b.RunID + "/" + batch.BucketRun(cfg.Bucket)
	store, _, err := h.runStore("", "", run[:len(run)-1])
	if err != nil {
		return nil, err
	}
	st, err := batch.LoadScanState(ctx, store)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		raw, _ := json.Marshal(settings)
		now := time.Now().UTC()
		st = &batch.ScanState{ScanID: b.RunID + "-" + cfg.Bucket, Settings: raw, Started: now,
			Checkpoint: scan.State{Bucket: cfg.Bucket, Prefix: cfg.Prefix, AllVersions: cfg.AllVersions}}
	case err != nil:
		return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
	}
	resp := &bucketPartResponse{Bucket: cfg.Bucket}
	if !st.Done {
		if err := h.scanPart(ctx, store, st, cfg, inv.id, false); err != nil {
			return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
		}
	}
	resp.Done, resp.Parts, resp.Error = st.Done, len(st.Parts), st.Error
	return resp, nil
}
