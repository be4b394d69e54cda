package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/scan"
)

// ocsfSchema is the part of the OCSF schema in testdata/ocsf-1.8.0.
type ocsfSchema struct {
	dir  string
	dict map[string]struct {
		Type    string `json:"type"`
		IsArray bool   `json:"is_array"`
	}
}

type schemaFile struct {
	Extends     string                     `json:"extends"`
	Attributes  map[string]json.RawMessage `json:"attributes"`
	Constraints struct {
		AtLeastOne []string `json:"at_least_one"`
	} `json:"constraints"`
}

type schemaAttr struct {
	Requirement string `json:"requirement"`
	Profile     any    `json:"profile"`
}

func loadOCSF(t *testing.T) *ocsfSchema {
	t.Helper()
	s := &ocsfSchema{dir: filepath.Join("testdata", "ocsf-"+OCSFVersion)}
	var dict struct {
		Attributes map[string]struct {
			Type    string `json:"type"`
			IsArray bool   `json:"is_array"`
		} `json:"attributes"`
	}
	b, err := os.ReadFile(filepath.Join(s.dir, "dictionary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dict); err != nil {
		t.Fatal(err)
	}
	s.dict = dict.Attributes
	return s
}

// attrs resolves a class's or object's attributes through extends (the
// child's settings win), and its at_least_one constraint (the nearest).
func (s *ocsfSchema) attrs(t *testing.T, path string) (map[string]schemaAttr, [][]string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, path))
	if err != nil {
		t.Fatalf("the schema subset lacks %s: %v", path, err)
	}
	var f schemaFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	out := map[string]schemaAttr{}
	var constraints [][]string
	if f.Extends != "" && f.Extends != "object" { // "object" is the root: no attributes
		parent := map[string]string{"finding": "events/findings/finding.json", "base_event": "events/base_event.json"}[f.Extends]
		if parent == "" {
			parent = "objects/" + f.Extends + ".json"
		}
		out, constraints = s.attrs(t, parent)
	}
	for name, raw := range f.Attributes {
		if name == "$include" {
			continue
		}
		a := out[name]
		var child schemaAttr
		_ = json.Unmarshal(raw, &child)
		if child.Requirement != "" {
			a.Requirement = child.Requirement
		}
		if child.Profile != nil || a.Profile == nil {
			a.Profile = child.Profile
		}
		out[name] = a
	}
	if len(f.Constraints.AtLeastOne) > 0 {
		constraints = [][]string{f.Constraints.AtLeastOne} // a child's constraints replace its parent's
	}
	return out, constraints
}

// check validates one value against a class or object: every required
// attribute present (profile attributes when the profile is applied),
// every at_least_one satisfied, and the objects inside checked too.
func (s *ocsfSchema) check(t *testing.T, path string, v map[string]any, profiles []string, where string) []string {
	attrs, constraints := s.attrs(t, path)
	if path == "events/findings/detection_finding.json" {
		for _, p := range profiles {
			pa, _ := s.attrs(t, "profiles/"+p+".json")
			for name, a := range pa {
				a.Profile = nil // applied
				attrs[name] = a
			}
		}
	}
	var problems []string
	for name, a := range attrs {
		if a.Requirement == "required" && a.Profile == nil {
			if _, ok := v[name]; !ok {
				problems = append(problems, fmt.Sprintf("%s: required attribute %q missing", where, name))
			}
		}
	}
	for _, group := range constraints {
		if !slices.ContainsFunc(group, func(n string) bool { _, ok := v[n]; return ok }) {
			problems = append(problems, fmt.Sprintf("%s: none of %v (at_least_one)", where, group))
		}
	}
	for name, val := range v {
		d, known := s.dict[name]
		if !known {
			problems = append(problems, fmt.Sprintf("%s: attribute %q is not in the schema's dictionary", where, name))
			continue
		}
		if strings.HasSuffix(d.Type, "_t") || d.Type == "object" { // scalars; "object" is free-form
			continue
		}
		objPath := "objects/" + d.Type + ".json"
		items := []any{val}
		if d.IsArray {
			items, _ = val.([]any)
		}
		for i, item := range items {
			obj, ok := item.(map[string]any)
			if !ok {
				problems = append(problems, fmt.Sprintf("%s.%s[%d]: not an object", where, name, i))
				continue
			}
			problems = append(problems, s.check(t, objPath, obj, nil, fmt.Sprintf("%s.%s[%d]", where, name, i))...)
		}
	}
	return problems
}

// Every line of the ocsf format is a Detection Finding with every
// attribute OCSF 1.8.0 requires, in the event and in its objects, one per
// effective finding.
func TestOCSFAgainstTheSchema(t *testing.T) {
	t.Parallel()
	schema := loadOCSF(t)
	var buf bytes.Buffer
	w := newOCSF(&buf, "1.2.3")
	w.now = func() time.Time { return time.Unix(1764633600, 0) }
	results := sampleResults()
	results = append(results, scan.Result{Bucket: "b", Key: "shared", OwnerID: "a", Versioned: true, VersionID: "v9",
		Grants:   []acl.Grant{{Type: acl.TypeCanonicalUser, ID: "a", Permission: "FULL_CONTROL"}, {Type: acl.TypeCanonicalUser, ID: "z", Permission: "READ"}},
		Findings: acl.Findings(0).With(acl.CrossAccount).With(acl.ForeignOwner), Effective: acl.Findings(0).With(acl.CrossAccount).With(acl.ForeignOwner)},
		acceptedSample())
	for i := range results {
		if err := w.Write(&results[i]); err != nil {
			t.Fatal(err)
		}
	}
	_ = w.Close(nil)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// public (served) + unreadable (denied) + cross-account + foreign-owner
	// + the accepted public asset; the latent authenticated grant is not
	// a finding to act on.
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(lines), buf.String())
	}
	var accepted ocsfFinding
	_ = json.Unmarshal([]byte(lines[4]), &accepted)
	if accepted.StatusID != 3 || accepted.Status != "Suppressed" || accepted.IsAlert || !strings.Contains(accepted.StatusDetail, "accepted by rule website-assets: the public website's images") {
		t.Errorf("the accepted finding: status %d %s, alert %v, detail %q; want Suppressed with the rule", accepted.StatusID, accepted.Status, accepted.IsAlert, accepted.StatusDetail)
	}
	for i, line := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %d is not JSON: %v", i+1, err)
		}
		var profiles []string
		if md, ok := v["metadata"].(map[string]any); ok {
			for _, p := range md["profiles"].([]any) {
				profiles = append(profiles, p.(string))
			}
		}
		for _, p := range schema.check(t, "events/findings/detection_finding.json", v, profiles, fmt.Sprintf("line %d", i+1)) {
			t.Error(p)
		}
		if v["class_uid"] != float64(2004) || v["type_uid"] != float64(200401) || v["category_uid"] != float64(2) {
			t.Errorf("line %d: class %v type %v category %v", i+1, v["class_uid"], v["type_uid"], v["category_uid"])
		}
	}
	var first ocsfFinding
	_ = json.Unmarshal([]byte(lines[0]), &first)
	if first.SeverityID != 5 || first.Resources[0].UID != "arn:aws:s3:::b/pub\x1b[2Jlic" || len(first.Evidences[0].Data["grants"].([]any)) != 1 {
		t.Errorf("the served public object: severity %d, resource %q, evidence %v", first.SeverityID, first.Resources[0].UID, first.Evidences[0].Data)
	}
	// The same finding has the same uid in every run.
	again := newOCSF(&bytes.Buffer{}, "1.2.3").finding(&results[1], acl.Public, ResultSources(&results[1]))
	if again.FindingInfo.UID != first.FindingInfo.UID {
		t.Errorf("finding uid not stable: %s, %s", again.FindingInfo.UID, first.FindingInfo.UID)
	}
	// The check can fail: a finding without its metadata is refused.
	delete(first.Resources[0].Data, "findings")
	b, _ := json.Marshal(first)
	var broken map[string]any
	_ = json.Unmarshal(b, &broken)
	delete(broken, "metadata")
	delete(broken["finding_info"].(map[string]any), "uid")
	if got := schema.check(t, "events/findings/detection_finding.json", broken, []string{"cloud"}, "broken"); len(got) != 2 {
		t.Errorf("a finding without metadata and finding_info.uid: %q; want both named", got)
	}
}

// What only the bucket policy opens: the object's finding names the policy
// and its statement; the bucket's own door (anyone may list it) is a
// finding of the bucket, written at Close; both pass the schema.
func TestOCSFPolicyDoors(t *testing.T) {
	schema := loadOCSF(t)
	var buf bytes.Buffer
	w := newOCSF(&buf, "1.2.3")
	w.now = func() time.Time { return time.Unix(1764633600, 0) }
	for _, r := range policySamples() {
		if err := w.Write(&r); err != nil {
			t.Fatal(err)
		}
	}
	sum := &scan.Summary{Bucket: "b", Context: acl.BucketContext{Bucket: "b", Owner: "a", Policy: acl.Read(websitePolicy)}}
	if err := w.Close(sum); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3 (public object, conditional object, the listable bucket):\n%s", len(lines), buf.String())
	}
	var findings []ocsfFinding
	for i, line := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatal(err)
		}
		if missing := schema.check(t, "events/findings/detection_finding.json", v, []string{"cloud"}, fmt.Sprintf("line %d", i+1)); len(missing) > 0 {
			t.Errorf("line %d: %v", i+1, missing)
		}
		var f ocsfFinding
		_ = json.Unmarshal([]byte(line), &f)
		findings = append(findings, f)
	}
	if f := findings[0]; f.FindingInfo.Title != "S3 object open to anyone: bucket policy" || f.SeverityID != 4 {
		t.Errorf("the policy's public object: %q severity %d", f.FindingInfo.Title, f.SeverityID)
	}
	if f := findings[2]; f.Resources[0].Type != "AWS::S3::Bucket" || !strings.Contains(f.Message, "statement Listing: s3:ListBucket") || f.SeverityID != 4 {
		t.Errorf("the bucket's door: %+v", f)
	}
}
