package main

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aclscan/aclscan/internal/settings"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestSettingsFromEnv(t *testing.T) {
	c, err := configFromEnv(env(map[string]string{
		"BUCKET_NAME": "my-bucket", "PREFIX": "logs/", "STRATEGY": "serial", "CONCURRENCY": "7", "ALL_VERSIONS": "true",
		"VERIFY_PUBLIC": "true", "SCAN_DISABLED_ACLS": "1", "ACCOUNT_ID": "123456789012",
	}))
	if err != nil {
		t.Fatal(err)
	}
	s := c.scan
	if s.Bucket != "my-bucket" || s.Prefix != "logs/" || s.Strategy != scan.Serial.String() || s.Concurrency != 7 || !s.AllVersions ||
		!s.VerifyPublic || !s.ScanDisabledACLs || s.S3.AccountID != "123456789012" {
		t.Errorf("settings = %+v", s)
	}
	// Connections follow the configured workers: the throttling limit and
	// the pool are sized from what the function really runs.
	if opts := c.clientOptions(); opts.Connections != 1 {
		t.Errorf("serial strategy: %d connections, want 1", opts.Connections)
	}
	c.scan.Strategy = "pool"
	if opts := c.clientOptions(); opts.Connections != 7 {
		t.Errorf("pool of 7: %d connections, want 7", opts.Connections)
	}
	for name, vars := range map[string]map[string]string{
		"bad strategy":    {"STRATEGY": "fast"},
		"bad concurrency": {"CONCURRENCY": "-1"},
		"bad bool":        {"ALL_VERSIONS": "maybe"},
		"bad verify":      {"VERIFY_PUBLIC": "yes please"},
		"bad account":     {"ACCOUNT_ID": "12345"},
		"bad bucket":      {"BUCKET_NAME": "No Spaces"},
	} {
		if _, err := configFromEnv(env(vars)); err == nil {
			t.Errorf("%s: accepted %v", name, vars)
		}
	}
}

func TestDefaultConcurrencyFollowsMemory(t *testing.T) {
	for mem, want := range map[string]int{"128": 32, "512": 32, "1024": 64, "3008": 64, "": 64, "junk": 64} {
		if got := defaultConcurrency(mem); got != want {
			t.Errorf("memory %q: concurrency %d, want %d", mem, got, want)
		}
	}
}

// Bad events are refused before any request (the client is never used).
func TestHandlerRejectsBadEvents(t *testing.T) {
	base, err := configFromEnv(env(map[string]string{"CONCURRENCY": "8"}))
	if err != nil {
		t.Fatal(err)
	}
	h := &handler{config: base}
	for _, tc := range []struct {
		ev   Event
		want string
	}{
		{Event{}, "no bucket"},
		{Event{Bucket: "ok-bucket", Strategy: "fast"}, "STRATEGY (or the event's strategy): unknown strategy"},
		{Event{Bucket: "ok-bucket", Concurrency: -2}, "concurrency must be positive"},
		{Event{Bucket: "x"}, "invalid bucket name"},
	} {
		if _, err := h.handle(context.Background(), tc.ev); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("event %+v: err %v, want %q", tc.ev, err, tc.want)
		}
	}
}

// The function's messages name its own settings, never the CLI's flags.
func TestMessagesNameEnvironmentVariables(t *testing.T) {
	_, err := configFromEnv(env(map[string]string{"BUCKET_NAME": "ok-bucket", "STRATEGY": "fast"}))
	if err == nil || !strings.Contains(err.Error(), "STRATEGY") || strings.Contains(err.Error(), "--") {
		t.Errorf("err = %v, want it to name STRATEGY and no flag", err)
	}
	if got := envSpelling(s3access.SettingRegion, "eu-west-1"); got != "AWS_REGION=eu-west-1" {
		t.Errorf("region spelled %q", got)
	}
}

// Events are told apart by shape; anything else is refused with what the
// function takes, before any request (the client is never used).
func TestDispatchRefusesUnknownEvents(t *testing.T) {
	h := &handler{config: config{scan: settings.Defaults()}}
	for event, want := range map[string]string{
		`[1, 2]`:             "not a JSON object",
		`{"bukcet": "typo"}`: `unknown field "bukcet"`,
		`{"bucket": 7}`:      "cannot unmarshal number",
		`{"invocationSchemaVersion": "3.0", "tasks": [{}]}`:                                       "reads 1.0 and 2.0",
		`{"invocationSchemaVersion": "1.0", "tasks": []}`:                                         "has no tasks",
		`{"Items": [], "BatchInput": {"run_id": "r"}}`:                                            "no items",
		`{"Items": [{"Key": "k"}], "BatchInput": {}}`:                                             "no run_id",
		`{"async": true, "scan_id": "../etc", "part": 2}`:                                         "a continuation needs the scan_id",
		`{"async": true, "surprise": 1}`:                                                          `unknown field "surprise"`,
		`{"source": "aws.s3", "detail-type": "Object Created", "detail": {}}`:                     "without detail.bucket.name",
		`{"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}, "object": {}}}]}`: "no s3.bucket.name or s3.object.key",
	} {
		_, err := h.dispatch(context.Background(), &invocation{id: "r", event: []byte(event)})
		var bad *badEvent
		if !errors.As(err, &bad) || !strings.Contains(err.Error(), want) {
			t.Errorf("event %s: err %v, want a refusal saying %q", event, err, want)
		}
	}
}

// Only the allowed buckets may be named: ALLOWED_BUCKETS (names, globs),
// else BUCKET_NAME alone, else none.
func TestAllowList(t *testing.T) {
	for _, tc := range []struct {
		vars    map[string]string
		allowed []string
		refused []string
	}{
		{map[string]string{"BUCKET_NAME": "main-bucket"}, []string{"main-bucket"}, []string{"other", "main-bucket2"}},
		{map[string]string{"ALLOWED_BUCKETS": "logs-*, data"}, []string{"logs-2026", "data"}, []string{"data2", "secrets"}},
		{map[string]string{}, nil, []string{"anything"}},
	} {
		c, err := configFromEnv(env(tc.vars))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range tc.allowed {
			if err := c.checkBucket(b); err != nil {
				t.Errorf("%v: %s refused: %v", tc.vars, b, err)
			}
		}
		for _, b := range tc.refused {
			if err := c.checkBucket(b); err == nil {
				t.Errorf("%v: %s allowed", tc.vars, b)
			}
		}
	}
	if _, err := configFromEnv(env(map[string]string{"ALLOWED_BUCKETS": "[bad"})); err == nil {
		t.Error("a malformed glob was accepted")
	}
	if _, err := configFromEnv(env(map[string]string{"RECORDS": "some"})); err == nil {
		t.Error("RECORDS=some was accepted")
	}
}

// The function writes JSON only: the other report formats (HTML
// templates, Parquet) must not be linked into it. They added 5.4 MB to
// the binary (24.1 MB instead of 18.7), read at every cold start. The
// packages are imported (package report holds every format); what
// matters is what the linker keeps.
func TestFunctionLinksNoOtherReportFormats(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the function")
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "tool", "nm", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool nm: %v\n%s", err, out)
	}
	// Package initialization stays whatever is used; these functions are
	// linked only when the writers are.
	for _, fn := range []string{"html/template.(*Template).Execute", "github.com/parquet-go/parquet-go.(*Writer).Write"} {
		if strings.Contains(string(out), " T "+fn+"\n") {
			t.Errorf("the function links %s: write its outputs with report.NewJSONL, not report.New", fn)
		}
	}
}

// What whoever may invoke the function can ask of it is bounded: a
// concurrency over MAX_CONCURRENCY, strategy all unless the deployment
// allows it, a report prefix that is not a plain folder path.
func TestEventsAreBounded(t *testing.T) {
	c, err := configFromEnv(env(map[string]string{"BUCKET_NAME": "bkt", "MAX_CONCURRENCY": "100"}))
	if err != nil {
		t.Fatal(err)
	}
	h := &handler{config: c}
	for name, tc := range map[string]struct {
		ev   Event
		want string
	}{
		"concurrency over the bound":   {Event{Concurrency: 101}, "over this function's bound MAX_CONCURRENCY=100"},
		"strategy all":                 {Event{Strategy: "all"}, "ALLOW_STRATEGY_ALL=true"},
		"a role without ALLOWED_ROLES": {Event{RoleARN: "arn:aws:iam::111122223333:role/aclscan-audit"}, "set ALLOWED_ROLES"},
		"not a role":                   {Event{RoleARN: "arn:aws:iam::111122223333:user/bob"}, "is not a role ARN"},
	} {
		if _, err := h.scanConfig(tc.ev); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	if _, err := h.scanConfig(Event{Concurrency: 100, Strategy: "pool"}); err != nil {
		t.Errorf("within the bounds: %v", err)
	}
	h.config.allowAll = true
	if _, err := h.scanConfig(Event{Strategy: "all"}); err != nil {
		t.Errorf("strategy all allowed by the deployment: %v", err)
	}
	h.config.reportBucket = "reports"
	if _, _, err := h.runStore("", "../../other", "run-1"); err == nil || !strings.Contains(err.Error(), "report_prefix") {
		t.Errorf("a report prefix climbing out: %v", err)
	}
	h.config.allowedRoles = []string{"arn:aws:iam::*:role/aclscan-audit"}
	if cfg, err := h.scanConfig(Event{RoleARN: "arn:aws:iam::111122223333:role/aclscan-audit"}); err != nil || cfg.Account == nil || cfg.Account.ID != "111122223333" {
		t.Errorf("an allowed role: %v, account %+v", err, cfg.Account)
	}
	if _, err := h.scanConfig(Event{RoleARN: "arn:aws:iam::111122223333:role/admin"}); err == nil || !strings.Contains(err.Error(), "not one this function may assume") {
		t.Errorf("a role outside ALLOWED_ROLES: %v", err)
	}
	// The accounts state machine's events: a run id that would climb out
	// of the report folder, a plan naming a role the function may not
	// assume, both refused before any request.
	for _, raw := range []struct{ event, want string }{
		{`{"run_id": "../x", "plan_accounts": {"accounts": [{"role_arn": "arn:aws:iam::111122223333:role/aclscan-audit"}]}}`, "run_id"},
		{`{"run_id": "r1", "plan_accounts": {"accounts": [{"role_arn": "arn:aws:iam::111122223333:role/admin"}]}}`, "not one this function may assume"},
		{`{"run_id": "r1", "plan_accounts": {}}`, "a plan holds 1 to"},
		{`{"bucket_part": {"run_id": "r/../x", "bucket": "bkt", "role_arn": "arn:aws:iam::111122223333:role/aclscan-audit"}}`, "run_id"},
		{`{"bucket_part": {"run_id": "r1", "bucket": "bkt", "role_arn": "arn:aws:iam::111122223333:role/aclscan-audit", "account_id": "999999999999"}}`, "is not the account of role"},
	} {
		var err error
		if strings.Contains(raw.event, "plan_accounts") {
			_, err = h.planAccounts(context.Background(), []byte(raw.event))
		} else {
			_, err = h.bucketPart(context.Background(), &invocation{id: "r"}, []byte(raw.event))
		}
		if err == nil || !strings.Contains(err.Error(), raw.want) {
			t.Errorf("%s: %v, want %q", raw.event, err, raw.want)
		}
	}
}
