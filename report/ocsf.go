package report

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/scan"
)

// OCSFVersion is the OCSF schema version the ocsf format follows
// (its required attributes are checked in report/testdata/ocsf-1.8.0).
const OCSFVersion = "1.8.0"

// OCSF Detection Finding (class 2004, category 2 Findings), activity Create.
const (
	ocsfCategoryFindings = 2
	ocsfClassDetection   = 2004
	ocsfActivityCreate   = 1
)

// ocsfFinding is one OCSF Detection Finding: an effective finding of one
// object, for Security Lake, Security Hub and SIEMs.
type ocsfFinding struct {
	ActivityID   int             `json:"activity_id"`
	ActivityName string          `json:"activity_name"`
	CategoryUID  int             `json:"category_uid"`
	CategoryName string          `json:"category_name"`
	ClassUID     int             `json:"class_uid"`
	ClassName    string          `json:"class_name"`
	TypeUID      int             `json:"type_uid"`
	TypeName     string          `json:"type_name"`
	SeverityID   int             `json:"severity_id"`
	Severity     string          `json:"severity"`
	StatusID     int             `json:"status_id"`
	Status       string          `json:"status"`
	StatusDetail string          `json:"status_detail,omitempty"`
	Time         int64           `json:"time"`
	Message      string          `json:"message"`
	Metadata     ocsfMetadata    `json:"metadata"`
	FindingInfo  ocsfFindingInfo `json:"finding_info"`
	Resources    []ocsfResource  `json:"resources"`
	Evidences    []ocsfEvidence  `json:"evidences"`
	Remediation  ocsfRemediation `json:"remediation"`
	Cloud        ocsfCloud       `json:"cloud"`
	IsAlert      bool            `json:"is_alert"`
	Confidence   int             `json:"confidence_id"`
}

type ocsfMetadata struct {
	Version  string      `json:"version"`
	Product  ocsfProduct `json:"product"`
	Profiles []string    `json:"profiles"`
}

type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version"`
}

type ocsfFindingInfo struct {
	UID   string   `json:"uid"`
	Title string   `json:"title"`
	Desc  string   `json:"desc"`
	Types []string `json:"types"`
}

type ocsfResource struct {
	UID            string         `json:"uid"`
	Name           string         `json:"name"`
	Type           string         `json:"type"`
	CloudPartition string         `json:"cloud_partition"`
	Owner          *ocsfUser      `json:"owner,omitempty"`
	Data           map[string]any `json:"data,omitempty"`
}

type ocsfUser struct {
	UID string `json:"uid"`
}

type ocsfEvidence struct {
	Data map[string]any `json:"data"`
}

type ocsfRemediation struct {
	Desc string `json:"desc"`
}

type ocsfCloud struct {
	Provider string       `json:"provider"`
	Account  *ocsfAccount `json:"account,omitempty"`
}

// ocsfAccount is the cloud account of a finding in a run over accounts.
type ocsfAccount struct {
	UID  string `json:"uid"`
	Name string `json:"name,omitempty"`
	Type string `json:"type"`
}

// OCSF severities.
var ocsfSeverities = map[int]string{1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}

// ocsfKind is what the OCSF finding says of one finding kind.
type ocsfKind struct {
	severity    int
	title, desc string
	remediation string
}

var ocsfKinds = [acl.NumKinds]ocsfKind{
	acl.Public: {4, "S3 object readable by anyone: public ACL",
		"The object's ACL grants a permission to the AllUsers group: anyone on the internet, without credentials.",
		"Remove the AllUsers grant (aclscan fix s3://BUCKET/PREFIX --findings public --apply --undo-log FILE keeps every other grant and can be undone), and turn on Block Public Access (IgnorePublicAcls, BlockPublicAcls)."},
	acl.Authenticated: {3, "S3 object open to any AWS account: AuthenticatedUsers ACL",
		"The object's ACL grants a permission to the AuthenticatedUsers group: any AWS account in the world, not only this organization's.",
		"Remove the AuthenticatedUsers grant (aclscan fix ... --findings authenticated --apply --undo-log FILE), and turn on Block Public Access (IgnorePublicAcls)."},
	acl.CrossAccount: {2, "S3 object shared with another account by its ACL",
		"The object's ACL grants a permission to a canonical user other than the bucket owner.",
		"Review the grantee; remove the grant (aclscan fix ... --findings cross-account) or move the access to the bucket policy, where it can be audited."},
	acl.ForeignOwner: {1, "S3 object owned by another account",
		"The object is owned by an account other than the bucket owner's: its ACL is that account's to set.",
		"Have the writer use the bucket-owner-full-control ACL, or set Object Ownership to BucketOwnerEnforced (aclscan scan shows whether the bucket is ready)."},
	acl.Unreadable: {1, "S3 object ACL unreadable by the auditor",
		"GetObjectAcl was denied: the object's exposure could not be judged (it is often owned by another account).",
		"Grant the auditor s3:GetObjectAcl, or read the ACL from an S3 Inventory report (aclscan inventory)."},
	acl.Conditional: {2, "S3 object open to anyone under a limiting condition",
		"A bucket policy statement (or an ACL grant narrowed by a deny) lets anyone act on the object, but only from fixed addresses, a VPC or VPC endpoint, an organization or account: not public by AWS's meaning.",
		"Check that the condition names only your own networks and organization; the finding's evidence shows it."},
	acl.PolicyUnjudged: {2, "S3 object exposure through the bucket policy not judged",
		"The bucket policy could not be read, or a statement reaching the object uses what aclscan cannot evaluate: the object may be exposed through it.",
		"Grant the auditor s3:GetBucketPolicy, or review the statement the evidence names."},
}

// policyKinds are what the OCSF finding says of a kind the bucket policy
// alone makes.
var policyKinds = map[acl.Kind]ocsfKind{
	acl.Public: {4, "S3 object open to anyone: bucket policy",
		"A bucket policy statement allows anyone on the internet, without credentials, to act on the object (the evidence names the statement and its actions).",
		"Narrow the statement's Principal or Resource, or turn on Block Public Access (BlockPublicPolicy, RestrictPublicBuckets) if the bucket need not be public."},
	acl.CrossAccount: {2, "S3 object shared with another account by the bucket policy",
		"A bucket policy statement allows a principal of another account to act on the object.",
		"Review the statement's principals; remove those that no longer need access."},
}

type ocsfWriter struct {
	buf     *bufio.Writer
	enc     *json.Encoder
	version string
	now     func() time.Time
}

func newOCSF(w io.Writer, version string) *ocsfWriter {
	buf := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if version == "" {
		version = "dev"
	}
	return &ocsfWriter{buf: buf, enc: enc, version: version, now: time.Now}
}

// Write writes one Detection Finding per effective finding of r.
func (o *ocsfWriter) Write(r *scan.Result) error {
	if r.Effective == 0 {
		return nil
	}
	sources := ResultSources(r)
	for _, k := range r.Effective.Kinds() {
		f := o.finding(r, k, sources)
		if r.Accepted.Has(k) && r.Acceptance != nil {
			// Intended exposure: reported, suppressed, no alert.
			f.StatusID, f.Status, f.IsAlert = 3, "Suppressed", false
			f.StatusDetail = "accepted by rule " + r.Acceptance.Rule + ": " + r.Acceptance.Reason
		}
		if err := o.enc.Encode(&f); err != nil {
			return err
		}
	}
	return nil
}

func (o *ocsfWriter) finding(r *scan.Result, k acl.Kind, sources []acl.Source) ocsfFinding {
	kind := ocsfKinds[k]
	// The doors that make this finding now: its title names the policy
	// when only the policy does.
	doors := []acl.Source{}
	viaACL := false
	for _, s := range sources {
		if s.Finding == k.String() && s.Effective {
			doors = append(doors, s)
			viaACL = viaACL || s.Door == acl.DoorACL
		}
	}
	types := []string{"S3 object ACL: " + k.String()}
	if byPolicy, ok := policyKinds[k]; ok && len(doors) > 0 && !viaACL {
		byPolicy.severity = kind.severity
		kind, types = byPolicy, []string{"S3 bucket policy: " + k.String()}
	}
	severity := kind.severity
	if k == acl.Public && r.Verified == scan.Served {
		severity = 5 // proven: served to an anonymous request
	}
	arn := "arn:aws:s3:::" + r.Bucket + "/" + r.Key
	where := "s3://" + r.Bucket + "/" + r.Key
	if r.VersionID != "" {
		where += " (version " + r.VersionID + ")"
	}
	id := sha256.Sum256([]byte(r.Bucket + "\x00" + r.Key + "\x00" + r.VersionID + "\x00" + k.String()))
	data := map[string]any{"findings": r.Findings.Names(), "effective": r.Effective.Names(), "source": sourceName(r)}
	if r.VersionID != "" {
		data["version_id"] = r.VersionID
	}
	if r.Versioned {
		data["is_latest"] = r.IsLatest
	}
	if r.Verified != scan.NotVerified {
		data["verified_public"] = r.Verified == scan.Served
	}
	f := o.detection(severity, where+": "+kind.title, ocsfFindingInfo{UID: hex.EncodeToString(id[:16]), Title: kind.title, Desc: kind.desc, Types: types})
	f.Resources = []ocsfResource{
		{UID: arn, Name: r.Key, Type: "AWS::S3::Object", CloudPartition: "aws", Data: data},
		{UID: "arn:aws:s3:::" + r.Bucket, Name: r.Bucket, Type: "AWS::S3::Bucket", CloudPartition: "aws"},
	}
	f.Remediation = ocsfRemediation{Desc: kind.remediation}
	f.Cloud.Account = ocsfAccountOf(r)
	if r.OwnerID != "" {
		f.Resources[0].Owner = &ocsfUser{UID: r.OwnerID}
	}
	f.Evidences = []ocsfEvidence{{Data: map[string]any{"grants": grantsOf(r.Grants, k, r.OwnerID), "sources": doors}}}
	return f
}

// detection is a Detection Finding (Create) with what every one of
// aclscan's holds; the caller adds its resources, evidence, remediation.
func (o *ocsfWriter) detection(severity int, message string, info ocsfFindingInfo) ocsfFinding {
	return ocsfFinding{
		ActivityID: ocsfActivityCreate, ActivityName: "Create",
		CategoryUID: ocsfCategoryFindings, CategoryName: "Findings",
		ClassUID: ocsfClassDetection, ClassName: "Detection Finding",
		TypeUID: ocsfClassDetection*100 + ocsfActivityCreate, TypeName: "Detection Finding: Create",
		SeverityID: severity, Severity: ocsfSeverities[severity],
		StatusID: 1, Status: "New",
		Time:    o.now().UnixMilli(),
		Message: message,
		Metadata: ocsfMetadata{Version: OCSFVersion, Product: ocsfProduct{Name: "aclscan", VendorName: "aclscan", Version: o.version},
			Profiles: []string{"cloud"}},
		FindingInfo: info,
		Cloud:       ocsfCloud{Provider: "AWS"},
		IsAlert:     true,
		Confidence:  3, // High: read from the ACL or the policy itself
	}
}

func sourceName(r *scan.Result) string {
	if r.Source == "" {
		return "live"
	}
	return r.Source
}

// grantsOf are the grants that make finding kind k (all of them for the
// kinds no single grant makes).
func grantsOf(grants []acl.Grant, k acl.Kind, owner string) []acl.Grant {
	out := []acl.Grant{}
	for _, g := range grants {
		if acl.Classify("", owner, []acl.Grant{g}).Has(k) || (k == acl.CrossAccount && g.Type == acl.TypeCanonicalUser && g.ID != owner) {
			out = append(out, g)
		}
	}
	return out
}

// Close writes one Detection Finding per bucket-level door open now (a
// policy statement that lets anyone or another account list the bucket,
// write into it or change its access), then flushes.
func (o *ocsfWriter) Close(sum *scan.Summary) error {
	if sum != nil {
		buckets := sum.Buckets
		if buckets == nil {
			buckets = []*scan.Summary{sum}
		}
		for _, b := range buckets {
			if b == nil {
				continue
			}
			doors, _, _ := b.BucketDoors()
			for _, d := range doors {
				if !d.Effective {
					continue
				}
				f := o.bucketFinding(b.Bucket, d)
				if err := o.enc.Encode(&f); err != nil {
					return err
				}
			}
		}
	}
	return o.buf.Flush()
}

// bucketFinding is the OCSF finding of one bucket-level door.
func (o *ocsfWriter) bucketFinding(bucket string, d acl.Source) ocsfFinding {
	severity, title := 2, "S3 bucket open to another account: bucket policy"
	switch d.Finding {
	case acl.Public.String():
		severity, title = 4, "S3 bucket open to anyone: bucket policy"
		for _, a := range d.Actions {
			if !strings.HasPrefix(a, "s3:List") && !strings.HasPrefix(a, "s3:Get") {
				severity = 5 // anyone may write into it or change its access
			}
		}
	case acl.Conditional.String():
		title = "S3 bucket open to anyone under a limiting condition: bucket policy"
	case acl.PolicyUnjudged.String():
		severity, title = 2, "S3 bucket policy statement not judged"
	}
	arn := "arn:aws:s3:::" + bucket
	id := sha256.Sum256([]byte(bucket + "\x00bucket-policy\x00" + d.Ref + "\x00" + d.Finding))
	f := o.detection(severity, "s3://"+bucket+": "+title+" (statement "+d.Ref+": "+strings.Join(d.Actions, " ")+")",
		ocsfFindingInfo{UID: hex.EncodeToString(id[:16]), Title: title,
			Desc:  "A bucket policy statement lets " + d.Principal + " act on the bucket itself: " + strings.Join(d.Actions, ", ") + ".",
			Types: []string{"S3 bucket policy: " + d.Finding}})
	f.Resources = []ocsfResource{{UID: arn, Name: bucket, Type: "AWS::S3::Bucket", CloudPartition: "aws"}}
	f.Remediation = ocsfRemediation{Desc: "Narrow the statement's Principal, Action or Resource, or turn on Block Public Access (BlockPublicPolicy, RestrictPublicBuckets) if the bucket need not be public."}
	f.Evidences = []ocsfEvidence{{Data: map[string]any{"sources": []acl.Source{d}}}}
	return f
}

func (o *ocsfWriter) Flush() error { return o.buf.Flush() }

// ocsfAccountOf is the finding's cloud.account (OCSF Account object, type
// "AWS Account"), in a run over accounts.
func ocsfAccountOf(r *scan.Result) *ocsfAccount {
	if r.Account == nil {
		return nil
	}
	return &ocsfAccount{UID: r.Account.ID, Name: r.Account.Name, Type: "AWS Account"}
}
