// Package deploy holds the SAM template and the state machines; this test
// checks them against the code: every role grants exactly what the code
// and the state machines call, no more, and the report bucket stays
// private.
package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/watch"
	"go.yaml.in/yaml/v3"
)

// node is the template as YAML nodes: CloudFormation's short forms
// (!Ref, !Sub, !GetAtt) are kept as tags.
type node = yaml.Node

func loadTemplate(t *testing.T) *node {
	t.Helper()
	b, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	return doc.Content[0]
}

// get returns the value of key in a mapping node (nil if absent).
func get(n *node, keys ...string) *node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// strs is a scalar or a sequence of scalars as strings (tags dropped:
// "!Sub x" gives "x").
func strs(n *node) []string {
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.ScalarNode:
		return []string{n.Value}
	case n.Kind == yaml.SequenceNode && n.Tag != "!If":
		var out []string
		for _, c := range n.Content {
			out = append(out, strs(c)...)
		}
		return out
	case n.Tag == "!If": // !If [cond, a, b]: both branches
		return append(strs(n.Content[1]), strs(n.Content[2])...)
	}
	return nil
}

type statement struct {
	sid, effect string
	actions     []string
	resources   []string
}

// roleStatements are the Allow statements of an AWS::IAM::Role's inline policies.
func roleStatements(t *testing.T, role *node) []statement {
	t.Helper()
	var out []statement
	for _, pol := range get(role, "Properties", "Policies").Content {
		for _, st := range get(pol, "PolicyDocument", "Statement").Content {
			s := statement{sid: get(st, "Sid").Value, effect: get(st, "Effect").Value, actions: strs(get(st, "Action")), resources: strs(get(st, "Resource"))}
			out = append(out, s)
		}
	}
	return out
}

func resources(t *testing.T) map[string]*node {
	t.Helper()
	res := map[string]*node{}
	r := get(loadTemplate(t), "Resources")
	for i := 0; i+1 < len(r.Content); i += 2 {
		res[r.Content[i].Value] = r.Content[i+1]
	}
	return res
}

// The function's role grants what s3access's calls need (the permissions
// it leaves out on purpose excepted), writing and reading under the
// report prefix, and invoking itself (async scans): nothing else.
func TestFunctionRoleMatchesTheCode(t *testing.T) {
	res := resources(t)
	granted := map[string][]string{} // action -> resources
	for _, st := range roleStatements(t, res["FunctionRole"]) {
		if st.effect != "Allow" {
			continue
		}
		for _, a := range st.actions {
			granted[a] = append(granted[a], st.resources...)
		}
	}
	const bucketARN, objectARN, reports = "arn:${AWS::Partition}:s3:::${AuditedBuckets}", "arn:${AWS::Partition}:s3:::${AuditedBuckets}/*", "${ReportBucket.Arn}/${ReportPrefix}/*"
	want := map[string]string{
		// batch.S3Store: a batch's records and report; an async scan's state.
		"s3:PutObject": reports, "s3:GetObject": reports,
		// An async scan invokes the function to continue.
		"lambda:InvokeFunction": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-aclscan",
		// Lambda sends a continuation that failed every retry to the
		// on-failure destination as the function's role.
		"sqs:SendMessage": "AsyncFailures.Arn",
	}
	for _, p := range s3access.ReadPermissions {
		if p.LeftOut {
			if _, ok := granted[p.Action]; ok && p.Action != "s3:GetObject" {
				t.Errorf("%s (%s) is left out of the policies on purpose, but the function's role grants it", p.Action, p.Call)
			}
			continue
		}
		want[p.Action] = map[string]string{"bucket": bucketARN, "object": objectARN, "*": "*",
			"accesspoint": "arn:${AWS::Partition}:s3:${AWS::Region}:${AWS::AccountId}:accesspoint/*"}[p.On]
	}
	for action, resource := range want {
		got, ok := granted[action]
		if !ok {
			t.Errorf("the function's role does not grant %s, which the code calls", action)
		} else if !slices.Equal(got, []string{resource}) {
			t.Errorf("%s is granted on %v, want %s only", action, got, resource)
		}
	}
	for action := range granted {
		if _, ok := want[action]; !ok {
			t.Errorf("the function's role grants %s, which the code does not call", action)
		}
	}
	env := get(res["Function"], "Properties", "Environment", "Variables")
	if a := get(env, "ALLOWED_BUCKETS"); a == nil || a.Tag != "!Ref" || a.Value != "AuditedBuckets" {
		t.Error("ALLOWED_BUCKETS must be the AuditedBuckets parameter: events naming other buckets are refused")
	}
	if get(res["Function"], "Properties", "FunctionUrlConfig") != nil {
		t.Error("the function must have no Function URL: no unauthenticated entry point")
	}
}

// asl is the part of a state machine definition the roles depend on.
type asl struct {
	States map[string]struct {
		Type       string `json:"Type"`
		Resource   string `json:"Resource"`
		ItemReader *struct {
			Resource string `json:"Resource"`
		} `json:"ItemReader"`
		ResultWriter *struct {
			Resource string `json:"Resource"`
		} `json:"ResultWriter"`
		ItemProcessor *struct {
			ProcessorConfig struct {
				Mode string `json:"Mode"`
			} `json:"ProcessorConfig"`
			States map[string]struct {
				Resource string `json:"Resource"`
			} `json:"States"`
		} `json:"ItemProcessor"`
	} `json:"States"`
}

// actionsOf are the IAM actions a service integration needs, from the
// Step Functions guide's IAM pages (Distributed Map, ItemReader,
// ResultWriter, Lambda).
var actionsOf = map[string][]string{
	"arn:aws:states:::s3:listObjectsV2": {"s3:ListBucket"},
	"arn:aws:states:::s3:getObject":     {"s3:GetObject"},
	"arn:aws:states:::s3:putObject":     {"s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"},
	"arn:aws:states:::lambda:invoke":    {"lambda:InvokeFunction"},
	"DISTRIBUTED":                       {"states:StartExecution", "states:DescribeExecution", "states:StopExecution"},
	// Logging to CloudWatch Logs (Step Functions guide, "IAM policies for
	// logging to CloudWatch Logs"): log deliveries are account-wide.
	"Logging": {"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
		"logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"},
}

// Each state machine's role grants what its definition calls, no more;
// every ${...} in the definition has its substitution.
func TestStateMachineRolesMatchTheirDefinitions(t *testing.T) {
	res := resources(t)
	placeholder := regexp.MustCompile(`\$\{([A-Za-z]+)\}`)
	for _, name := range []string{"ListingStateMachine", "InventoryStateMachine", "AccountsStateMachine"} {
		sm := get(res[name], "Properties")
		file := get(sm, "DefinitionUri").Value
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var def asl
		if err := json.Unmarshal(b, &def); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var want []string
		for _, st := range def.States {
			want = append(want, actionsOf[st.Resource]...)
			if st.ItemReader != nil {
				want = append(want, actionsOf[st.ItemReader.Resource]...)
			}
			if st.ResultWriter != nil {
				want = append(want, actionsOf[st.ResultWriter.Resource]...)
			}
			if p := st.ItemProcessor; p != nil {
				want = append(want, actionsOf[p.ProcessorConfig.Mode]...)
				for _, child := range p.States {
					want = append(want, actionsOf[child.Resource]...)
				}
			}
		}
		if get(sm, "Logging") != nil {
			want = append(want, actionsOf["Logging"]...)
		}
		role := get(sm, "Role")
		roleName := strings.TrimSuffix(role.Value, ".Arn")
		var got []string
		for _, st := range roleStatements(t, res[roleName]) {
			got = append(got, st.actions...)
		}
		if !sameSet(got, want) {
			t.Errorf("%s: role %s grants %v; its definition %s calls %v", name, roleName, uniq(got), file, uniq(want))
		}
		subs := get(sm, "DefinitionSubstitutions")
		for _, m := range placeholder.FindAllStringSubmatch(string(b), -1) {
			if get(subs, m[1]) == nil {
				t.Errorf("%s uses ${%s}, which DefinitionSubstitutions does not set", file, m[1])
			}
		}
	}
}

// No role grants a wildcard action, nor anything on the audited buckets
// beyond reading ACLs and settings; the report bucket blocks public
// access, encrypts, refuses plain HTTP and lets only aclscan's roles write.
func TestReportBucketIsPrivate(t *testing.T) {
	res := resources(t)
	for name, r := range res {
		if get(r, "Type").Value == "AWS::IAM::Role" {
			for _, st := range roleStatements(t, r) {
				audited := slices.ContainsFunc(st.resources, func(r string) bool { return strings.Contains(r, "${AuditedBuckets}") })
				for _, a := range st.actions {
					if strings.Contains(a, "*") {
						t.Errorf("%s grants the wildcard action %s", name, a)
					}
					// On the audited buckets: ACLs and settings, never the
					// objects' content.
					if audited && !slices.ContainsFunc(s3access.ReadPermissions, func(p s3access.Permission) bool { return p.Action == a && !p.LeftOut }) {
						t.Errorf("%s grants %s on the audited buckets: aclscan reads ACLs, not objects", name, a)
					}
				}
			}
		}
		if typ := get(r, "Type").Value; typ == "AWS::Lambda::Url" || typ == "AWS::Lambda::Permission" {
			t.Errorf("%s (%s) opens an entry point to the function", name, typ)
		}
	}
	block := get(res["ReportBucket"], "Properties", "PublicAccessBlockConfiguration")
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if v := get(block, k); v == nil || v.Value != "true" {
			t.Errorf("the report bucket's %s is not true", k)
		}
	}
	if get(res["ReportBucket"], "Properties", "BucketEncryption") == nil {
		t.Error("the report bucket has no default encryption")
	}
	var tls, writers, readers bool
	for _, st := range get(res["ReportBucketPolicy"], "Properties", "PolicyDocument", "Statement").Content {
		if get(st, "Effect").Value != "Deny" {
			t.Errorf("the report bucket policy allows something (%s): it should only deny", get(st, "Sid").Value)
		}
		if get(st, "Condition", "Bool", "aws:SecureTransport") != nil {
			tls = true
		}
		p := get(st, "Condition", "ArnNotEquals", "aws:PrincipalArn")
		switch get(st, "Sid").Value {
		case "OnlyAclscanWrites":
			// The four roles, the watch's and the accounts state machine's
			// when they exist.
			writers = sameSet(strs(p), []string{"FunctionRole.Arn", "ListingStateMachineRole.Arn", "InventoryStateMachineRole.Arn", "BatchOperationsRole.Arn",
				"WatchFunctionRole.Arn", "AWS::NoValue", "AccountsStateMachineRole.Arn"})
		case "OnlyAclscanAndTheReaderRead":
			// The four roles, the reader, and the accounts state machine
			// (its ItemReader reads the plan).
			readers = sameSet(strs(p), []string{"FunctionRole.Arn", "ListingStateMachineRole.Arn", "InventoryStateMachineRole.Arn", "BatchOperationsRole.Arn",
				"ReportReaderRoleArn", "AWS::NoValue", "AccountsStateMachineRole.Arn"}) && slices.Contains(strs(get(st, "Action")), "s3:GetObject")
		}
	}
	if !tls || !writers || !readers {
		t.Errorf("report bucket policy: TLS only %v, writers limited to the four roles %v, readers to them and the reader role %v", tls, writers, readers)
	}
	if v := get(res["ReportBucket"], "Properties", "VersioningConfiguration", "Status"); v == nil || v.Value != "Enabled" {
		t.Error("the report bucket is not versioned")
	}
}

// Issue 24's deployment items: every service trust policy names the
// account (and the state machine) that may assume the role; Step
// Functions' child-workflow actions name the state machine; the
// function's logs expire; its concurrency is reserved and failed async
// continuations have a destination; "*" as AuditedBuckets needs a
// confirmation.
func TestDeploymentIsLeastPrivilege(t *testing.T) {
	res := resources(t)
	for name, r := range res {
		if get(r, "Type").Value != "AWS::IAM::Role" {
			continue
		}
		for _, st := range get(r, "Properties", "AssumeRolePolicyDocument", "Statement").Content {
			if get(st, "Condition", "StringEquals", "aws:SourceAccount") == nil {
				t.Errorf("%s: the trust policy does not name the account that may use it (aws:SourceAccount)", name)
			}
			if svc := get(st, "Principal", "Service"); svc != nil && svc.Value == "states.amazonaws.com" && get(st, "Condition", "ArnLike", "aws:SourceArn") == nil {
				t.Errorf("%s: Step Functions may assume it for any state machine (no aws:SourceArn)", name)
			}
		}
		for _, st := range roleStatements(t, r) {
			for _, a := range st.actions {
				if strings.HasPrefix(a, "states:") && slices.Contains(st.resources, "*") {
					t.Errorf("%s grants %s on every state machine", name, a)
				}
			}
		}
	}
	for _, logs := range []string{"FunctionLogs", "ListingStateMachineLogs", "InventoryStateMachineLogs", "WatchFunctionLogs", "AccountsStateMachineLogs"} {
		if v := get(res[logs], "Properties", "RetentionInDays"); v == nil {
			t.Errorf("%s has no retention", logs)
		}
	}
	for _, sm := range []string{"ListingStateMachine", "InventoryStateMachine", "AccountsStateMachine"} {
		if l := get(res[sm], "Properties", "Logging"); l == nil || get(l, "IncludeExecutionData").Value != "false" {
			t.Errorf("%s: no logging, or logging with execution data (the bucket's keys)", sm)
		}
	}
	fn := get(res["Function"], "Properties")
	if get(fn, "ReservedConcurrentExecutions") == nil || get(fn, "EventInvokeConfig", "DestinationConfig", "OnFailure") == nil {
		t.Error("the function needs reserved concurrency and an on-failure destination for its async continuations")
	}
	if get(loadTemplate(t), "Rules", "EveryBucketIsConfirmed") == nil {
		t.Error(`AuditedBuckets "*" is not refused without a confirmation`)
	}
}

// docs/iam-policy.md names every permission the code calls.
func TestIAMDocNamesEveryPermission(t *testing.T) {
	b, err := os.ReadFile("../docs/iam-policy.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range s3access.ReadPermissions {
		if !p.LeftOut && !strings.Contains(string(b), `"`+p.Action+`"`) {
			t.Errorf("docs/iam-policy.md does not grant %s (%s)", p.Action, p.Call)
		}
	}
}

func uniq(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
}

func sameSet(a, b []string) bool { return slices.Equal(uniq(a), uniq(b)) }

// An Express child (a Distributed Map batch) lives at most 5 minutes,
// its retries included: the batch task's timeout, its retries and the
// function's own bound on a batch (BATCH_SECONDS) must agree, or a batch
// is cut off mid-way and its retries never run.
func TestBatchTimeLimitsAgree(t *testing.T) {
	env := get(resources(t)["Function"], "Properties", "Environment", "Variables")
	batchSeconds, err := strconv.Atoi(get(env, "BATCH_SECONDS").Value)
	if err != nil {
		t.Fatalf("BATCH_SECONDS: %v", err)
	}
	for _, file := range []string{"statemachines/listing.asl.json", "statemachines/inventory.asl.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var def struct {
			States map[string]struct {
				ItemProcessor struct {
					States map[string]struct {
						TimeoutSeconds int
						Retry          []struct {
							ErrorEquals                  []string
							IntervalSeconds, MaxAttempts int
							BackoffRate                  float64
						}
					}
				}
			}
		}
		if err := json.Unmarshal(b, &def); err != nil {
			t.Fatal(err)
		}
		for _, st := range def.States {
			for name, task := range st.ItemProcessor.States {
				if task.TimeoutSeconds <= batchSeconds+5 {
					t.Errorf("%s %s: TimeoutSeconds %d leaves the function (BATCH_SECONDS=%d) no time to answer", file, name, task.TimeoutSeconds, batchSeconds)
				}
				// The worst case: every attempt runs to the timeout, with
				// the longest waits between them.
				worst := float64(task.TimeoutSeconds)
				for _, r := range task.Retry {
					if !slices.Contains(r.ErrorEquals, "States.Timeout") && !slices.Contains(r.ErrorEquals, "aclscan.BatchIncomplete") {
						continue
					}
					wait := float64(r.IntervalSeconds)
					for range r.MaxAttempts {
						worst += wait + float64(task.TimeoutSeconds)
						wait *= r.BackoffRate
					}
				}
				if worst > 300 {
					t.Errorf("%s %s: a batch and its retries may take %.0f s, over Express's 5 minutes", file, name, worst)
				}
			}
		}
	}
}

// The watch (issue 27): what S3 and CloudTrail announce reaches the
// queue through rules that match what the code reads; the queue has a
// dead-letter queue, alarms and a visibility timeout Lambda's SQS guide
// allows; the function answers partial batches, has its own reserved
// concurrency, and its role grants what it calls: reading ACLs,
// consuming its queue, writing records, starting rescans, and, only when
// asked, changing ACLs and sending alerts.
func TestWatchDeployment(t *testing.T) {
	res := resources(t)
	for name, r := range res {
		if strings.HasPrefix(name, "Watch") {
			if c := get(r, "Condition"); c == nil || !strings.HasPrefix(c.Value, "Watch") {
				t.Errorf("%s exists without WatchedBuckets (no Watch* condition)", name)
			}
		}
	}
	objects := get(res["WatchObjectsRule"], "Properties", "EventPattern")
	if !sameSet(strs(get(objects, "detail-type")), watch.ObjectDetailTypes) {
		t.Errorf("the objects rule matches %v; the watch judges %v", strs(get(objects, "detail-type")), watch.ObjectDetailTypes)
	}
	if n := get(objects, "detail", "bucket", "name"); n == nil || n.Tag != "!Ref" || n.Value != "WatchedBuckets" {
		t.Error("the objects rule must match the WatchedBuckets' names")
	}
	settings := get(res["WatchSettingsRule"], "Properties", "EventPattern")
	var names []string
	for _, branch := range get(settings, "detail", "$or").Content {
		names = append(names, strs(get(branch, "eventName"))...)
		if b := get(branch, "requestParameters", "bucketName"); b != nil && (b.Tag != "!Ref" || b.Value != "WatchedBuckets") {
			t.Error("the settings rule's bucket-level calls must match the WatchedBuckets' names")
		}
	}
	if !sameSet(names, watch.SettingEvents) {
		t.Errorf("the settings rule matches %v; the function acts on %v", uniq(names), uniq(watch.SettingEvents))
	}
	for _, rule := range []string{"WatchObjectsRule", "WatchSettingsRule"} {
		target := get(res[rule], "Properties", "Targets").Content[0]
		if strs(get(target, "Arn"))[0] != "WatchQueue.Arn" {
			t.Errorf("%s does not send to the watch queue", rule)
		}
	}
	senders := get(res["WatchQueuePolicy"], "Properties", "PolicyDocument", "Statement").Content[0]
	if !sameSet(strs(get(senders, "Condition", "ArnEquals", "aws:SourceArn")), []string{"WatchObjectsRule.Arn", "WatchSettingsRule.Arn"}) {
		t.Error("the watch queue must take messages from the two rules only (aws:SourceArn)")
	}

	queue := get(res["WatchQueue"], "Properties")
	if strs(get(queue, "RedrivePolicy", "deadLetterTargetArn"))[0] != "WatchDeadLetters.Arn" || get(queue, "RedrivePolicy", "maxReceiveCount") == nil {
		t.Error("the watch queue has no dead-letter queue")
	}
	fn := get(res["WatchFunction"], "Properties")
	timeout, _ := strconv.Atoi(get(fn, "Timeout").Value)
	visibility, _ := strconv.Atoi(get(queue, "VisibilityTimeout").Value)
	if timeout == 0 || visibility < 6*timeout {
		t.Errorf("visibility timeout %d s under six times the function's timeout %d s: messages in flight come back", visibility, timeout)
	}
	mapping := get(fn, "Events", "Queue", "Properties")
	if strs(get(mapping, "Queue"))[0] != "WatchQueue.Arn" || !slices.Contains(strs(get(mapping, "FunctionResponseTypes")), "ReportBatchItemFailures") {
		t.Error("the watch function must consume the watch queue with ReportBatchItemFailures")
	}
	if c, r := get(mapping, "ScalingConfig", "MaximumConcurrency"), get(fn, "ReservedConcurrentExecutions"); c == nil || r == nil || c.Value != r.Value {
		t.Error("the queue's maximum concurrency must be the function's reserved concurrency (more is throttled and retried)")
	}
	env := get(fn, "Environment", "Variables")
	for k, want := range map[string]string{"RESCAN_FUNCTION": "Function", "REMEDIATE": "WatchRemediate", "REPORT_BUCKET": "ReportBucket"} {
		if v := get(env, k); v == nil || v.Value != want {
			t.Errorf("the watch function's %s is not !Ref %s", k, want)
		}
	}
	if a := get(env, "ALLOWED_BUCKETS"); a == nil || !slices.Contains(strs(a), "WatchedBuckets") {
		t.Error("the watch function's ALLOWED_BUCKETS must be the watched buckets")
	}
	alarmed := map[string]string{}
	for _, r := range res {
		if get(r, "Type").Value == "AWS::CloudWatch::Alarm" {
			alarmed[strs(get(r, "Properties", "Dimensions").Content[0].Content[3])[0]] = get(r, "Properties", "MetricName").Value
		}
	}
	if alarmed["WatchQueue.QueueName"] != "ApproximateAgeOfOldestMessage" || alarmed["WatchDeadLetters.QueueName"] != "ApproximateNumberOfMessagesVisible" {
		t.Errorf("alarms: %v; want the queue's age and the dead-letter queue's messages", alarmed)
	}

	// The role: what the watch calls, nothing else; the opt-ins only
	// under their conditions.
	granted := map[string][]string{}
	for _, st := range roleStatements(t, res["WatchFunctionRole"]) {
		for _, a := range st.actions {
			granted[a] = append(granted[a], st.resources...)
		}
	}
	want := map[string]string{
		"sqs:ReceiveMessage": "WatchQueue.Arn", "sqs:DeleteMessage": "WatchQueue.Arn", "sqs:GetQueueAttributes": "WatchQueue.Arn",
		"s3:PutObject":          "${ReportBucket.Arn}/${ReportPrefix}/*",
		"lambda:InvokeFunction": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-aclscan",
	}
	for _, p := range s3access.ReadPermissions {
		if !p.LeftOut {
			want[p.Action] = map[string]string{"bucket": "arn:${AWS::Partition}:s3:::${AuditedBuckets}", "object": "arn:${AWS::Partition}:s3:::${AuditedBuckets}/*", "*": "*",
				"accesspoint": "arn:${AWS::Partition}:s3:${AWS::Region}:${AWS::AccountId}:accesspoint/*"}[p.On]
		}
	}
	for action, resource := range want {
		if got := granted[action]; !slices.Equal(got, []string{resource}) {
			t.Errorf("the watch role grants %s on %v, want %s only", action, got, resource)
		}
	}
	for action := range granted {
		if _, ok := want[action]; !ok {
			t.Errorf("the watch role grants %s, which the watch does not call", action)
		}
	}
	optIns := map[string]struct {
		condition string
		actions   []string
	}{
		"WatchRemediationPolicy": {"WatchRemediates", []string{"s3:PutObjectAcl", "s3:PutObjectVersionAcl"}},
		"WatchAlertsBusPolicy":   {"WatchAlertsBus", []string{"events:PutEvents"}},
		"WatchAlertsTopicPolicy": {"WatchAlertsTopic", []string{"sns:Publish"}},
		// Not the watch's: the scan function's member roles (issue 28).
		"MemberRolesPolicy": {"AssumesMemberRoles", []string{"sts:AssumeRole"}},
		"OrganizationListingPolicy": {"ListsOrganization", []string{"organizations:ListAccounts", "organizations:ListAccountsForParent",
			"organizations:ListOrganizationalUnitsForParent", "organizations:ListTagsForResource"}},
	}
	for name, r := range res {
		if get(r, "Type").Value != "AWS::IAM::RolePolicy" {
			continue
		}
		opt, ok := optIns[name]
		if !ok {
			t.Errorf("%s: a role policy no opt-in explains", name)
			continue
		}
		delete(optIns, name)
		if c := get(r, "Condition"); c == nil || c.Value != opt.condition {
			t.Errorf("%s is granted without its condition %s", name, opt.condition)
		}
		var actions []string
		for _, st := range get(r, "Properties", "PolicyDocument", "Statement").Content {
			actions = append(actions, strs(get(st, "Action"))...)
		}
		if !sameSet(actions, opt.actions) {
			t.Errorf("%s grants %v, want %v", name, actions, opt.actions)
		}
	}
	for name := range optIns {
		t.Errorf("%s is missing", name)
	}
}

// The member-account role (deploy/member-role.yaml, for StackSets):
// trusts the central role only, with the external ID; grants what
// aclscan reads (every permission the code calls, ListAllMyBuckets for
// --all-buckets) and nothing that reads objects; writes ACLs only with
// AllowFix.
func TestMemberRole(t *testing.T) {
	b, err := os.ReadFile("member-role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	res := map[string]*node{}
	r := get(doc.Content[0], "Resources")
	for i := 0; i+1 < len(r.Content); i += 2 {
		res[r.Content[i].Value] = r.Content[i+1]
	}
	role := res["AuditRole"]
	trust := get(role, "Properties", "AssumeRolePolicyDocument", "Statement").Content
	if len(trust) != 1 || get(trust[0], "Principal", "AWS").Value != "CentralRoleArn" || get(trust[0], "Condition", "StringEquals", "sts:ExternalId") == nil {
		t.Error("the member role must trust the central role only, with the external ID")
	}
	if v := get(role, "Properties", "MaxSessionDuration"); v == nil || v.Value != "3600" {
		t.Error("MaxSessionDuration: an hour, what aclscan asks for")
	}
	var granted []string
	for _, st := range roleStatements(t, role) {
		granted = append(granted, st.actions...)
	}
	want := []string{"s3:ListAllMyBuckets"}
	for _, p := range s3access.ReadPermissions {
		if !p.LeftOut {
			want = append(want, p.Action)
		}
	}
	if !sameSet(granted, want) {
		t.Errorf("the member role grants %v, want %v", uniq(granted), uniq(want))
	}
	fix := res["FixPolicy"]
	if c := get(fix, "Condition"); c == nil || c.Value != "FixAllowed" {
		t.Error("ACL writes must be opt-in (Condition FixAllowed)")
	}
	var writes []string
	for _, st := range get(fix, "Properties", "PolicyDocument", "Statement").Content {
		writes = append(writes, strs(get(st, "Action"))...)
	}
	if !sameSet(writes, []string{"s3:PutObjectAcl", "s3:PutObjectVersionAcl", "s3:PutBucketAcl"}) {
		t.Errorf("the fix opt-in grants %v", writes)
	}
	if p := get(doc.Content[0], "Parameters", "ExternalId"); p == nil || get(p, "NoEcho").Value != "true" || get(p, "MinLength") == nil {
		t.Error("ExternalId must be NoEcho with a minimum length")
	}
}

// Events may name a member account's role only when MemberRoleName is
// set: the function may assume that role name and no other, and
// ALLOWED_ROLES holds it to the same.
func TestMemberRolesOptIn(t *testing.T) {
	res := resources(t)
	env := get(res["Function"], "Properties", "Environment", "Variables")
	allowed := get(env, "ALLOWED_ROLES")
	if allowed == nil || allowed.Tag != "!If" || allowed.Content[0].Value != "AssumesMemberRoles" ||
		allowed.Content[1].Value != "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}" || allowed.Content[2].Value != "" {
		t.Error("ALLOWED_ROLES must be the member role name's ARNs when set, empty otherwise")
	}
	pol := get(res["MemberRolesPolicy"], "Properties", "PolicyDocument", "Statement").Content[0]
	if strs(get(pol, "Resource"))[0] != allowed.Content[1].Value {
		t.Error("the function may assume other roles than ALLOWED_ROLES names")
	}
	if p := get(loadTemplate(t), "Parameters", "MemberExternalId"); p == nil || get(p, "NoEcho").Value != "true" {
		t.Error("MemberExternalId must be NoEcho")
	}
}
