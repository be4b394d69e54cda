//go:build integration

package engines

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/batch"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/scan"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The accounts state machine (deploy/statemachines/accounts.asl.json)
// reproduced around the function under the emulator: the plan step
// enters two "accounts" (radosgw tenants, through their roles at the STS
// gateway) and a third whose role cannot be assumed; the plan's items,
// read as the JSON ItemReader reads them, each go to a child that sends
// bucket parts until the function answers done (the definition's Choice
// loop), with parts cut short by the function's deadline; the run's
// folder then merges (`aclscan report`) into every object once, each
// naming its account, the denied account a row of its own.
func TestAccountsRunUnderTheEmulator(t *testing.T) {
	env, _, bootstrap, rie := buildFunction(t)
	if env.STSURL == "" {
		t.Fatal("LOCAL_S3_STS_URL is not set: restart the local S3")
	}
	ctx := context.Background()
	sizes := []int{2500, 300}
	var roles []string
	var tenants []locals3.Tenant
	for i, n := range sizes {
		tn, err := locals3.NewTenant(ctx, env, fmt.Sprintf("sfn%d", i))
		if err != nil {
			t.Fatal(err)
		}
		sts := env
		sts.HTTPURL = env.STSURL
		owner := sts.Client(tn.Owner)
		bucket := "b-" + tn.Name
		if err := locals3.CreateBucket(ctx, owner, bucket); err != nil {
			t.Fatal(err)
		}
		if err := locals3.PutObjects(ctx, owner, bucket, locals3.Keys("k/", n), func(in *s3.PutObjectInput) {
			if isPublic(*in.Key) {
				locals3.PublicRead(in)
			}
		}); err != nil {
			t.Fatal(err)
		}
		tenants, roles = append(tenants, tn), append(roles, tn.RoleARN)
	}
	a := env.Client(env.A)
	if err := locals3.CreateBucket(ctx, a, reportsBucket); err != nil {
		t.Fatal(err)
	}
	em := NewEmulator(rie, bootstrap, []string{
		"AWS_ENDPOINT_URL_S3=" + env.STSURL, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + env.A.AccessKey, "AWS_SECRET_ACCESS_KEY=" + env.A.SecretKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"ALLOWED_BUCKETS=b-*", "ALLOWED_ROLES=arn:aws:iam::*:role/aclscan", "REPORT_BUCKET=" + reportsBucket, "RECORDS=all",
		"CONCURRENCY=4", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
		// Short parts: a bucket takes several, as a large one does on AWS.
		"AWS_LAMBDA_FUNCTION_TIMEOUT=2",
	})
	if err := em.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(em.Kill)
	runID := "aclscan-accounts-" + tenants[0].Name
	plan := map[string]any{"run_id": runID, "plan_accounts": map[string]any{"accounts": []map[string]any{
		{"role_arn": roles[0], "name": "big", "buckets": []string{"b-" + tenants[0].Name}},
		{"role_arn": roles[1], "name": "small", "buckets": []string{"b-" + tenants[1].Name}},
		{"role_arn": "arn:aws:iam::nosuchtenant:role/aclscan", "name": "gone"},
	}}}
	payload, _ := json.Marshal(plan)
	out, err := em.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, em.Log())
	}
	var planned struct {
		PlanKey  string         `json:"plan_key"`
		Buckets  int            `json:"buckets"`
		Accounts map[string]int `json:"accounts"`
	}
	if err := json.Unmarshal(out, &planned); err != nil || planned.Buckets != 2 || planned.Accounts["planned"] != 2 || planned.Accounts["denied"] != 1 ||
		planned.PlanKey != "aclscan/"+runID+"/plan.json" {
		t.Fatalf("plan answer %s (%v)", out, err)
	}
	// The ItemReader: the plan file, a JSON array of items.
	store := batch.NewS3Store(a, reportsBucket, "aclscan/"+runID+"/")
	raw, err := store.Get(ctx, "plan.json")
	if err != nil {
		t.Fatal(err)
	}
	var items []map[string]string
	if err := json.Unmarshal(raw, &items); err != nil || len(items) != 2 {
		t.Fatalf("plan.json %s (%v)", raw, err)
	}
	parts := map[string]int{}
	for _, item := range items {
		// The child: ItemSelector's bucket_part, then ScanPart until done.
		part, _ := json.Marshal(map[string]any{"bucket_part": map[string]string{"run_id": runID, "bucket": item["bucket"],
			"role_arn": item["role_arn"], "account_id": item["account_id"]}})
		for loop := 0; ; loop++ {
			if loop == 50 {
				t.Fatalf("bucket %s: not done after 50 parts", item["bucket"])
			}
			out, err := em.Invoke(ctx, part)
			if err != nil {
				t.Fatalf("bucket %s part %d: %v", item["bucket"], loop+1, err)
			}
			var resp struct {
				Done  bool   `json:"done"`
				Parts int    `json:"parts"`
				Error string `json:"error"`
			}
			if err := json.Unmarshal(out, &resp); err != nil || resp.Error != "" {
				t.Fatalf("bucket %s: %s (%v)", item["bucket"], out, err)
			}
			if resp.Done {
				parts[item["bucket"]] = resp.Parts
				break
			}
		}
	}
	t.Logf("parts per bucket: %v", parts)
	if parts["b-"+tenants[0].Name] < 2 {
		t.Errorf("the big bucket took %d parts: the deadline did not cut it (the loop went untested)", parts["b-"+tenants[0].Name])
	}
	seen := map[string]int{}
	var mismatched []string
	merged, err := batch.MergeAccounts(ctx, store, scan.SinkFunc(func(r *scan.Result) error {
		seen[r.Bucket+"/"+r.Key]++
		if want := strings.TrimPrefix(r.Bucket, "b-"); r.AccountID() != want || r.Effective.Has(acl.Public) != isPublic(r.Key) {
			mismatched = append(mismatched, r.Bucket+"/"+r.Key+" account "+r.AccountID())
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	for i, tn := range tenants {
		for _, k := range locals3.Keys("k/", sizes[i]) {
			if id := "b-" + tn.Name + "/" + k; seen[id] != 1 {
				t.Fatalf("%s merged %d times", id, seen[id])
			}
		}
	}
	if len(mismatched) > 0 {
		t.Errorf("%d records with the wrong account or finding, first %s", len(mismatched), mismatched[0])
	}
	var states []string
	for _, acct := range merged.Total.Accounts {
		states = append(states, acct.Name+":"+acct.State)
	}
	slices.Sort(states)
	if strings.Join(states, ",") != "big:scanned,gone:denied,small:scanned" || merged.Total.Complete || len(merged.Missing) != 1 ||
		merged.Total.Objects != int64(sizes[0]+sizes[1]) {
		t.Errorf("merged: accounts %v, complete %v, missing %v, %d objects", states, merged.Total.Complete, merged.Missing, merged.Total.Objects)
	}
}
