package acl

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aclscan/aclscan/policy"
)

// Doors name where an object's exposure comes from, in Source.Door.
const (
	DoorACL          = "acl"
	DoorBucketPolicy = "bucket-policy"
)

// doors is what a judge knows of the doors to a bucket's objects besides
// their ACLs: the bucket policy, compiled for the bucket, and the
// settings that limit it.
type doors struct {
	policy *policy.Evaluator // nil: no policy, or one that is not judged
	// unjudged says why the policy as a whole is not judged.
	unjudged string
	// restrict names the RestrictPublicBuckets settings that make a
	// public policy's grants to outsiders latent ("" when none does).
	restrict      []string
	ownerEnforced bool
	empty         *policy.Access
	bucket        *policy.Access
	// accessPoints are the bucket's access points' doors;
	// accessPointsProblem says why they were not read.
	accessPoints        []apDoor
	accessPointsProblem string

	mu      sync.Mutex
	reasons atomic.Pointer[map[reasonKey][]string]
}

// reasonKey identifies one combination of latent findings and why.
type reasonKey struct {
	access     *policy.Access
	settings   Findings // latent by the bucket's settings
	denied     Findings // ACL findings latent by explicit denies
	limited    bool     // the public ACL grant is denied only to outsiders
	restricted Findings // policy findings latent by RestrictPublicBuckets
	policyDeny Findings // policy findings latent by explicit denies
	apLatent   Findings // access point findings latent by RestrictPublicBuckets
}

// setPolicy compiles the bucket policy of c for the judge.
func (j *Judge) setPolicy(c *BucketContext) {
	d := &j.doors
	d.empty = &policy.Access{}
	d.bucket = d.empty
	d.ownerEnforced = c.ACLsDisabled()
	empty := map[reasonKey][]string{}
	d.reasons.Store(&empty)
	switch {
	case !c.Policy.Known:
		problem := c.Policy.Problem
		if problem == "" {
			problem = "not read"
		}
		d.unjudged = "the bucket policy is unknown (" + problem + ")"
		return
	case c.Policy.Value == "":
		return
	}
	doc, err := policy.Parse([]byte(c.Policy.Value))
	if err != nil {
		d.unjudged = "the bucket policy cannot be judged: " + err.Error()
		return
	}
	d.policy = policy.Compile(doc, policy.Env{
		Bucket: c.Bucket, Partition: c.Partition, OwnerAccount: c.Account,
		OwnerCanonical: c.Owner, UsersAreAccounts: c.UsersAreAccounts, Fixed: policy.DirectRequests,
	}, time.Now())
	d.bucket = d.policy.Bucket()
	if d.policy.Public {
		if c.AccountBlock.Known && c.AccountBlock.Value.RestrictPublicBuckets {
			d.restrict = append(d.restrict, BlockedByAccountRestrict)
		}
		if c.BucketBlock.Known && c.BucketBlock.Value.RestrictPublicBuckets {
			d.restrict = append(d.restrict, BlockedByBucketRestrict)
		}
	}
}

// PolicyProblems lists what of the bucket policy could not be judged:
// the whole policy, or its statements one by one.
func (j *Judge) PolicyProblems() []string {
	if j.doors.unjudged != "" {
		return []string{j.doors.unjudged}
	}
	if j.doors.policy != nil {
		return j.doors.policy.Problems
	}
	return nil
}

// PolicyNamesAccounts reports whether the bucket policy names principals
// by their AWS account (which only the owner's account ID tells apart).
func (j *Judge) PolicyNamesAccounts() bool {
	return j.doors.policy != nil && j.doors.policy.NamesAccounts
}

// PolicyPublic reports whether the bucket policy is public by AWS's
// meaning, and whether it was judged at all.
func (j *Judge) PolicyPublic() (public, judged bool) {
	if j.doors.unjudged != "" {
		return false, false
	}
	return j.doors.policy != nil && j.doors.policy.Public, true
}

// Verdict is the judgement of one object through every door.
type Verdict struct {
	// Findings are what the doors say; Effective those that grant access
	// now; BlockedBy names what makes the others latent (shared: do not
	// modify).
	Findings, Effective Findings
	BlockedBy           []string
	// ViaACL are the effective findings the ACL alone makes: what
	// disabling ACLs would take away.
	ViaACL Findings
	// Doors explains the verdict, grant by grant (Sources).
	Doors Doors
}

// Doors is what a verdict keeps to explain itself: the policy's answer
// for the object and the judge that gave it. Both are shared.
type Doors struct {
	Access *policy.Access
	judge  *Judge
	// actions are those that reach the object (see Version); key is the
	// object's (for the access points' doors, judged again when asked).
	actions policy.Actions
	key     string
}

// Version says which actions reach an object: asked for without a
// version ID (an unversioned scan), or as a version of an --all-versions
// scan (s3:GetObjectVersion and the other version actions too).
type Version uint8

const (
	// Current: the object as GET without a version ID reaches it.
	Current Version = iota
	// Latest: the current version of a versioned scan, reached both ways.
	Latest
	// Noncurrent: an older version, reached only by its version ID.
	Noncurrent
)

// Actions are the actions that reach an object of this kind.
func (v Version) Actions() policy.Actions {
	switch v {
	case Latest:
		return policy.ObjectActions
	case Noncurrent:
		return policy.VersionActions
	}
	return policy.CurrentActions
}

// Object judges an object through its ACL (grants; base holds findings
// already known, Unreadable when the ACL could not be read) and the
// bucket policy, under Block Public Access and Object Ownership. It
// allocates nothing once the bucket's combinations have been seen.
func (j *Judge) Object(key, objectOwner string, grants []Grant, base Findings, version Version) Verdict {
	d := &j.doors
	reach := version.Actions()
	aclFound := base | Classify(j.BucketOwner, objectOwner, grants)
	ownerOwns := objectOwner == "" || j.BucketOwner == "" || objectOwner == j.BucketOwner || d.ownerEnforced
	a := d.empty
	if d.policy != nil {
		a = d.policy.Object(key, ownerOwns)
	}
	k := reasonKey{access: a, settings: aclFound & j.blocked}
	aclEffective := aclFound &^ j.blocked
	if aclEffective&FromGrants != 0 && a.Denies() {
		k.denied, k.limited = deniedACLKinds(aclEffective, grants, a, reach)
		aclEffective &^= k.denied
	}
	var found, effective Findings
	for _, door := range [...]struct {
		kind               Kind
		granted, effective policy.Actions
	}{
		{Public, a.PublicGranted, a.PublicActions},
		{Conditional, a.ConditionalGranted, a.ConditionalActions},
		{CrossAccount, a.AccountGranted, a.AccountActions},
	} {
		if door.granted&reach == 0 {
			continue
		}
		found |= 1 << door.kind
		if door.effective&reach != 0 {
			effective |= 1 << door.kind
		} else {
			k.policyDeny |= 1 << door.kind
		}
	}
	if len(d.restrict) > 0 {
		k.restricted = effective
		effective = 0
	}
	if len(d.accessPoints) > 0 {
		apFound, apEffective, apLatent := j.accessPointFindings(key, ownerOwns, grants, reach)
		found |= apFound
		effective |= apEffective
		k.apLatent = apLatent
	}
	if a.UnjudgedActions&reach != 0 || d.unjudged != "" {
		found |= 1 << PolicyUnjudged
		effective |= 1 << PolicyUnjudged
	}
	if k.limited {
		found |= 1 << Conditional
		effective |= 1 << Conditional
	}
	v := Verdict{Findings: aclFound | found, Effective: aclEffective | effective, ViaACL: aclEffective & GrantKinds,
		Doors: Doors{Access: a, judge: j, actions: reach, key: key}}
	latent := v.Findings &^ v.Effective
	if latent == 0 {
		return v
	}
	k.settings &= latent
	k.denied &= latent
	k.restricted &= latent
	k.policyDeny &= latent
	k.apLatent &= latent
	v.BlockedBy = j.reasonsFor(k)
	return v
}

// deniedACLKinds returns the ACL findings whose every granted action an
// explicit deny takes away, and whether the public one is taken only
// from outsiders (it is then conditional).
func deniedACLKinds(f Findings, grants []Grant, a *policy.Access, reach policy.Actions) (denied Findings, limited bool) {
	var anyone, anyAccount policy.Actions
	crossOpen := false
	for i := range grants {
		g := &grants[i]
		actions := PermissionActions(g.Permission) & reach
		switch {
		case g.Type == TypeGroup && isGroup(g.URI, AllUsersURI):
			anyone |= actions
		case g.Type == TypeGroup && isGroup(g.URI, AuthenticatedUsersURI):
			anyAccount |= actions
		case g.Type == TypeCanonicalUser && f.Has(CrossAccount):
			if denied, _ := a.DeniedFor(g.ID); actions&^denied != 0 {
				crossOpen = true
			}
		default:
			crossOpen = true // a grantee no deny can be matched to
		}
	}
	if f.Has(Public) && anyone != 0 {
		switch {
		case anyone&^a.DeniedAnonymous == 0:
			denied |= 1 << Public
		case anyone&^(a.DeniedAnonymous|a.DeniedOutsiders) == 0:
			denied |= 1 << Public
			limited = true
		}
	}
	if f.Has(Authenticated) && anyAccount != 0 && anyAccount&^a.DeniedAll == 0 {
		denied |= 1 << Authenticated
	}
	if f.Has(CrossAccount) && !crossOpen {
		denied |= 1 << CrossAccount
	}
	return denied, limited
}

// PermissionActions are the object actions an ACL permission grants.
func PermissionActions(permission string) policy.Actions {
	switch permission {
	case "READ":
		return policy.Read
	case "READ_ACP":
		return policy.ReadACL
	case "WRITE_ACP":
		return policy.WriteACL
	case "FULL_CONTROL":
		return policy.Read | policy.ReadACL | policy.WriteACL
	}
	return 0 // WRITE means nothing on an object
}

// reasonsFor returns the shared blocked_by list of a combination,
// building it the first time it is seen.
func (j *Judge) reasonsFor(k reasonKey) []string {
	d := &j.doors
	if r, ok := (*d.reasons.Load())[k]; ok {
		return r
	}
	var r []string
	r = append(r, j.reasons[k.settings]...)
	a := k.access
	if k.denied.Has(Public) {
		r = append(r, policyRefs(a.DeniedAnonymousBy)...)
		if k.limited {
			r = append(r, policyRefs(a.DeniedOutsidersBy)...)
		}
	}
	if k.denied.Has(Authenticated) {
		r = append(r, policyRefs(a.DeniedAllBy)...)
	}
	if k.denied.Has(CrossAccount) {
		r = append(r, policyRefs(a.DenyRefs())...)
	}
	if k.policyDeny != 0 {
		for _, list := range [][]policy.Grant{a.Public, a.Conditional, a.Accounts} {
			for _, g := range list {
				r = append(r, policyRefs(g.DeniedBy)...)
			}
		}
	}
	if k.restricted != 0 {
		r = append(r, d.restrict...)
	}
	if k.apLatent != 0 {
		for _, ap := range d.accessPoints {
			r = append(r, ap.restrict...)
		}
	}
	r = uniqueInOrder(r)
	d.mu.Lock()
	defer d.mu.Unlock()
	old := *d.reasons.Load()
	if len(old) < 4096 {
		next := make(map[reasonKey][]string, len(old)+1)
		for key, v := range old {
			next[key] = v
		}
		next[k] = r
		d.reasons.Store(&next)
	}
	return r
}

func policyRefs(refs []string) []string {
	out := make([]string, len(refs))
	for i, ref := range refs {
		out[i] = BlockedByPolicyPrefix + ref
	}
	return out
}

func uniqueInOrder(list []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Source is one door through which an object is exposed, or would be: an
// ACL grant or a policy statement, with what it lets whom do. Part of the
// output contract (the records' sources).
type Source struct {
	Finding string `json:"finding"`
	// Door is "acl" or "bucket-policy"; Ref the ACL grant
	// (AllUsers:READ) or the statement (its Sid, or #index).
	Door      string   `json:"door"`
	Ref       string   `json:"ref"`
	Principal string   `json:"principal"`
	Actions   []string `json:"actions"`
	// Condition is what limits the grant to some requesters ("" when
	// nothing does).
	Condition string `json:"condition"`
	// Effective says whether it grants access now; Note says why not, or
	// why the door could not be judged.
	Effective bool   `json:"effective"`
	Note      string `json:"note"`
}

// String renders a source compactly for one-line outputs (CSV, table):
// public@bucket-policy:Website, conditional@bucket-policy:Office if
// IpAddress aws:SourceIp [192.0.2.0/24], public@acl:AllUsers:READ
// (latent).
func (s Source) String() string {
	out := s.Finding + "@" + s.Door
	if s.Ref != "" {
		out += ":" + s.Ref
	}
	if s.Condition != "" {
		out += " if " + s.Condition
	}
	switch {
	case s.Note == TrustedNote:
		out += " (trusted)"
	case !s.Effective:
		out += " (latent)"
	}
	return out
}

// TrustedNote is what a cross-account source says when every account it
// opens the object to is in the zone of trust: the finding is gone, and
// the source says why rather than claim an exposure.
const TrustedNote = "shared only with the zone of trust (trusted accounts): not cross-account"

// Sources explains a verdict door by door. It allocates: call it when
// writing a report, not per object in the engine.
func (d Doors) Sources(objectOwner string, grants []Grant) []Source {
	j := d.judge
	if j == nil {
		return nil
	}
	a := d.Access
	var out []Source
	for i := range grants {
		g := &grants[i]
		kind, ok := grantKind(j.BucketOwner, g)
		if !ok {
			continue
		}
		actions := PermissionActions(g.Permission) & d.actions
		s := Source{Finding: kind.String(), Door: DoorACL, Ref: Describe(grants[i:i+1], ""), Principal: grantee(g), Actions: actions.Names(), Effective: true}
		if blocked := (Findings(0).With(kind) & j.blocked); blocked != 0 {
			s.Effective, s.Note = false, "blocked by "+strings.Join(j.reasons[blocked], ", ")
		} else if denied := deniedTo(g, kind, a); actions != 0 && actions&^denied == 0 {
			s.Effective, s.Note = false, "every action it grants is denied by the bucket policy"
		} else if kind == Public && actions != 0 && actions&^(a.DeniedAnonymous|a.DeniedOutsiders) == 0 {
			s.Effective, s.Note = false, "denied to outsiders by the bucket policy ("+strings.Join(a.DeniedOutsidersBy, ", ")+"): conditional"
		}
		out = append(out, s)
	}
	add := func(kind Kind, list []policy.Grant) {
		for _, g := range list {
			g.Actions &= d.actions
			g.Effective &= d.actions
			if g.Actions == 0 {
				continue
			}
			s := Source{Finding: kind.String(), Door: DoorBucketPolicy, Ref: g.Ref, Principal: g.Principal, Actions: g.Actions.Names(),
				Condition: g.Condition, Effective: g.Effective != 0}
			switch {
			case kind == PolicyUnjudged:
				s.Note = g.Why
			case !s.Effective:
				s.Note = "denied by " + strings.Join(g.DeniedBy, ", ")
			case len(j.doors.restrict) > 0:
				s.Effective, s.Note = false, "limited to the owner's account by "+strings.Join(j.doors.restrict, ", ")
			case len(g.DeniedBy) > 0:
				s.Note = "some actions denied by " + strings.Join(g.DeniedBy, ", ")
			}
			if s.Effective && g.Effective != g.Actions {
				s.Actions = g.Effective.Names()
			}
			out = append(out, s)
		}
	}
	add(Public, a.Public)
	add(Conditional, a.Conditional)
	add(CrossAccount, a.Accounts)
	add(PolicyUnjudged, a.Unjudged)
	if j.doors.unjudged != "" {
		out = append(out, Source{Finding: PolicyUnjudged.String(), Door: DoorBucketPolicy, Actions: []string{}, Effective: true, Note: j.doors.unjudged})
	}
	if len(j.doors.accessPoints) > 0 {
		out = append(out, d.accessPointSources(d.key, objectOwner, grants)...)
	}
	return out
}

// deniedTo returns what the policy's denies take from an ACL grantee.
func deniedTo(g *Grant, kind Kind, a *policy.Access) policy.Actions {
	switch kind {
	case Public:
		return a.DeniedAnonymous
	case Authenticated:
		return a.DeniedAll
	}
	if g.Type == TypeCanonicalUser {
		denied, _ := a.DeniedFor(g.ID)
		return denied
	}
	return 0
}

func grantee(g *Grant) string {
	switch {
	case g.URI != "":
		return g.URI
	case g.Email != "":
		return g.Email
	}
	return g.ID
}

// BucketDoors lists the bucket policy's statements that let anyone, or
// another account, list the bucket, write, delete or change the ACL of
// its objects, or change its access (the bucket's own doors), as sources;
// effective is the set of kinds that grant access now.
func (j *Judge) BucketDoors() (sources []Source, found, effective Findings) {
	a := j.doors.bucket
	for _, part := range []struct {
		kind Kind
		list []policy.Grant
	}{{Public, a.Public}, {Conditional, a.Conditional}, {CrossAccount, a.Accounts}, {PolicyUnjudged, a.Unjudged}} {
		for _, g := range part.list {
			s := Source{Finding: part.kind.String(), Door: DoorBucketPolicy, Ref: g.Ref, Principal: g.Principal,
				Actions: g.Actions.Names(), Condition: g.Condition, Effective: g.Effective != 0, Note: g.Why}
			found = found.With(part.kind)
			if s.Effective && part.kind != PolicyUnjudged && len(j.doors.restrict) > 0 {
				s.Effective, s.Note = false, "limited to the owner's account by "+strings.Join(j.doors.restrict, ", ")
			}
			if s.Effective {
				effective = effective.With(part.kind)
			}
			sources = append(sources, s)
		}
	}
	return sources, found, effective
}
