package policy

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Grant is one way a policy statement opens an object (or the bucket) to
// someone outside the owner's account.
type Grant struct {
	// Ref names the statement (its Sid, or #index).
	Ref string
	// Principal is "*" or the principal as written.
	Principal string
	// Actions are what the statement allows on the object; Effective
	// those no explicit deny takes away; DeniedBy names the denies.
	Actions   Actions
	Effective Actions
	DeniedBy  []string
	// Condition renders what limits the grant to some requesters (the
	// conditions that tell insiders from outsiders, or the policy
	// variables its resource depends on); "" when none does.
	Condition string
	// Why says why the grant could not be judged (Unjudged grants only).
	Why string
}

// Access is what a policy says of one object: immutable, shared by every
// object with the same matching statements.
type Access struct {
	// Public: grants to anyone, anonymous requesters included.
	Public []Grant
	// Conditional: grants to anyone that hold only for requesters with
	// fixed values of a restricting key (an address range, a VPC, an
	// organisation): not public by AWS's meaning, shown with the condition.
	Conditional []Grant
	// Accounts: grants to named principals outside the owner's account.
	Accounts []Grant
	// Unjudged: Allow statements that reach the object but could not be
	// judged.
	Unjudged []Grant
	// PublicActions, ConditionalActions and AccountActions are the
	// effective actions of each list together; the *Granted sets are
	// what the lists grant before denies, UnjudgedActions what the
	// unjudged statements name.
	PublicActions, ConditionalActions, AccountActions Actions
	PublicGranted, ConditionalGranted, AccountGranted Actions
	UnjudgedActions                                   Actions
	// DeniedAll are actions an explicit deny takes from every principal
	// outside the owner's account (DeniedAllBy names the statements);
	// DeniedAnonymous those it takes from anonymous requesters (a deny
	// that spares some named principal still reaches them);
	// DeniedOutsiders those it takes from everyone but requesters with
	// fixed values of a restricting key (a public grant then becomes
	// conditional).
	DeniedAll, DeniedAnonymous, DeniedOutsiders       Actions
	DeniedAllBy, DeniedAnonymousBy, DeniedOutsidersBy []string
	// denies are the explicit denies that apply to outsiders, for
	// DeniedFor.
	denies []denyRule
}

// denyRule is one deny statement as it reaches an object.
type denyRule struct {
	st      *statement
	actions Actions
}

// covers reports whether the deny takes the actions from the principal
// wherever it asks from (a deny that spares insiders limits a named
// principal's access without ending it).
func (d denyRule) covers(p *principal) bool {
	if d.st.denyOutsider != isTrue || d.st.denyInsider != isTrue {
		return false
	}
	if d.st.anyone {
		return !excepted(d.st.except, p)
	}
	for j := range d.st.named {
		if samePrincipal(&d.st.named[j], p) {
			return true
		}
	}
	return false
}

// Empty reports whether the policy says nothing of the object.
func (a *Access) Empty() bool {
	return len(a.Public)+len(a.Conditional)+len(a.Accounts)+len(a.Unjudged)+len(a.denies) == 0
}

// outsidersDenied says which denies take actions from outsiders, and
// when: the condition a requester must escape to keep them.
func (a *Access) outsidersDenied(actions Actions) string {
	var parts []string
	for _, d := range a.denies {
		if d.st.anyone && d.st.denyInsider != isTrue && d.actions&actions != 0 {
			parts = append(parts, d.st.ref+" denies when "+d.st.condition)
		}
	}
	return strings.Join(parts, "; ")
}

// Denies reports whether any explicit deny reaches the object.
func (a *Access) Denies() bool { return len(a.denies) > 0 }

// DenyRefs names every deny that reaches the object.
func (a *Access) DenyRefs() []string {
	out := make([]string, 0, len(a.denies))
	for _, d := range a.denies {
		out = append(out, d.st.ref)
	}
	return out
}

// DeniedFor returns the actions explicit denies take from the account
// with this canonical ID (an ACL grantee), and their statements.
func (a *Access) DeniedFor(canonical string) (Actions, []string) {
	if len(a.denies) == 0 {
		return 0, nil
	}
	p := principal{canonical: canonical}
	return a.deniedFor(&p)
}

func (a *Access) deniedFor(p *principal) (Actions, []string) {
	var out Actions
	var by []string
	for _, d := range a.denies {
		if d.covers(p) && d.actions&^out != 0 {
			out |= d.actions
			by = append(by, d.st.ref)
		}
	}
	return out, by
}

// statement is a statement compiled for one bucket.
type statement struct {
	ref  string
	deny bool
	// objectActions and bucketActions: what it names, split by resource type.
	objectActions, bucketActions Actions
	keys                         []keyMatcher
	notResource                  bool
	// bucket: its resources cover the bucket's ARN; someObject: some
	// object of the bucket.
	bucket, someObject bool
	// anyone: it names every principal (Principal "*", or NotPrincipal);
	// except lists NotPrincipal's; named the principals it names.
	anyone bool
	except []principal
	named  []principal
	// allow* and deny*: the conditions' truth for outsiders and insiders,
	// read as an Allow (the requester's choices taken) or a Deny (avoided).
	allowOutsider, allowInsider truth
	denyOutsider, denyInsider   truth
	condition                   string
	unjudged                    string
}

// Evaluator judges objects and the bucket against one compiled policy.
type Evaluator struct {
	env        Env
	statements []statement
	// objectStatements indexes the statements that name object actions.
	objectStatements []int
	// cache maps a set of matching statements (and whether the owner
	// owns the object) to its Access: copied on write, read lock-free.
	mu    sync.Mutex
	cache atomic.Pointer[map[uint64]*Access]
	// Problems says what could not be judged, statement by statement.
	Problems []string
	// Public is AWS's verdict on the whole policy by its meaning of
	// "public" (used for RestrictPublicBuckets and to cross-check
	// GetBucketPolicyStatus).
	Public bool
	// NamesAccounts is set when a statement names a principal by its AWS
	// account (an account ID or an IAM or STS ARN).
	NamesAccounts bool
}

// maxCached bounds the cache of distinct statement sets.
const maxCached = 4096

// Compile prepares a parsed policy for the bucket env names. Statements
// that cannot be judged are kept with their reason (Problems).
func Compile(doc *Document, env Env, now time.Time) *Evaluator {
	e := &Evaluator{env: env}
	withVariables := doc.Version == "2012-10-17"
	bucketARN, head := e.env.resourceARNs()
	for i := range doc.Statements {
		st := compileStatement(&doc.Statements[i], &e.env, bucketARN, head, withVariables, now)
		if st.unjudged != "" {
			e.Problems = append(e.Problems, fmt.Sprintf("statement %s: %s", st.ref, st.unjudged))
		}
		if st.objectActions != 0 && st.someObject {
			e.objectStatements = append(e.objectStatements, len(e.statements))
		}
		e.statements = append(e.statements, st)
		for _, p := range append(st.named, st.except...) {
			e.NamesAccounts = e.NamesAccounts || p.account
		}
		if !st.deny && st.anyone && st.allowOutsider != isFalse && st.unjudged == "" &&
			(st.objectActions != 0 && st.someObject || st.bucketActions != 0 && st.bucket) {
			e.Public = true
		}
	}
	empty := map[uint64]*Access{}
	e.cache.Store(&empty)
	return e
}

func compileStatement(s *Statement, env *Env, bucketARN, head string, withVariables bool, now time.Time) statement {
	st := statement{ref: s.Ref(), deny: s.Deny}
	actions := actionsMatching(s.Actions)
	if s.NotAction {
		actions = allActions &^ actions
	}
	st.objectActions, st.bucketActions = actions&ObjectActions, actions&BucketActions

	// Resources: object patterns specialised for this bucket's keys.
	var vars []string
	var coversAllObjects bool
	for _, r := range s.Resources {
		p := compilePattern(r, withVariables)
		vars = append(vars, p.vars...)
		m := compileKeyMatcher(p, head)
		if m.kind != keyNever {
			st.keys = append(st.keys, m)
		}
		if m.kind == keyAll {
			coversAllObjects = true
		}
		if match(p.tokens, text{tail: bucketARN}) {
			st.bucket = true
		}
	}
	st.notResource = s.NotResource
	if s.NotResource {
		st.bucket = !st.bucket
		st.someObject = !coversAllObjects
	} else {
		st.someObject = len(st.keys) > 0
	}

	// Principals.
	switch {
	case !s.HasPrincipal:
		st.unjudged = "no Principal (not a resource policy statement)"
	case s.NotPrincipal:
		st.anyone = !s.Principal.Any
		st.except = namedPrincipals(s.Principal, env)
	case s.Principal.Any:
		st.anyone = true
	default:
		st.named = namedPrincipals(s.Principal, env)
	}

	// Conditions: an Allow holds for a class when every condition does
	// (a requester's choice taken); a Deny applies when every condition
	// does (a requester's choice avoided).
	st.allowOutsider, st.allowInsider = isTrue, isTrue
	st.denyOutsider, st.denyInsider = isTrue, isTrue
	var limits []string
	for _, c := range s.Conditions {
		cc, err := compileCondition(c, now, env.Fixed)
		if err != nil {
			st.unjudged = err.Error()
			continue
		}
		st.allowOutsider = and(st.allowOutsider, cc.outsider, true)
		st.allowInsider = and(st.allowInsider, cc.insider, true)
		st.denyOutsider = and(st.denyOutsider, cc.outsider, false)
		st.denyInsider = and(st.denyInsider, cc.insider, false)
		if cc.restricting() {
			limits = append(limits, cc.String())
		}
	}
	for _, v := range vars {
		limits = append(limits, "resource names "+v)
	}
	st.condition = strings.Join(limits, "; ")
	if len(vars) > 0 {
		// Who the resource names depends on who asks: no outsider's.
		st.allowOutsider = and(st.allowOutsider, isFalse, true)
	}
	if st.unjudged == "" && !st.deny && (st.allowOutsider == unknown || st.allowInsider == unknown) {
		st.unjudged = "its conditions depend on what aclscan does not read (" + unknownKeys(s.Conditions, now, env.Fixed) + ")"
	}
	return st
}

// and combines a statement's truth so far with one more condition's.
func and(acc, t truth, asAllow bool) truth {
	if t == chosen {
		if asAllow {
			t = isTrue
		} else {
			t = isFalse
		}
	}
	switch {
	case acc == isFalse || t == isFalse:
		return isFalse
	case acc == unknown || t == unknown:
		if !asAllow {
			return isFalse // a deny that may not apply is not counted on
		}
		return unknown
	}
	return isTrue
}

func unknownKeys(conds []Condition, now time.Time, fixed map[string]string) string {
	var keys []string
	for _, c := range conds {
		if classifyKey(c.Key, now, fixed).kind == keyUnknown {
			keys = append(keys, c.Key)
		}
	}
	return strings.Join(keys, ", ")
}

// Object returns what the policy says of the object with this key;
// ownerOwns is false when another account owns it (a bucket policy's
// Allow then does not reach it; its Deny does). The answer is shared.
func (e *Evaluator) Object(key string, ownerOwns bool) *Access {
	if len(e.objectStatements) > 64 {
		return e.access(e.matchingSlow(key), ownerOwns)
	}
	var mask uint64
	for bit, i := range e.objectStatements {
		if e.statements[i].matchesKey(key) {
			mask |= 1 << bit
		}
	}
	cacheKey := mask
	if !ownerOwns {
		cacheKey = ^mask // distinct from every owned key: at most 64 statements leave a zero bit
		if len(e.objectStatements) == 64 && mask == 0 {
			return e.access(e.matchingSlow(key), ownerOwns)
		}
	}
	if a, ok := (*e.cache.Load())[cacheKey]; ok {
		return a
	}
	var matching []int
	for bit, i := range e.objectStatements {
		if mask&(1<<bit) != 0 {
			matching = append(matching, i)
		}
	}
	a := e.access(matching, ownerOwns)
	e.mu.Lock()
	defer e.mu.Unlock()
	old := *e.cache.Load()
	if len(old) < maxCached {
		next := make(map[uint64]*Access, len(old)+1)
		for k, v := range old {
			next[k] = v
		}
		next[cacheKey] = a
		e.cache.Store(&next)
	}
	return a
}

func (e *Evaluator) matchingSlow(key string) []int {
	var out []int
	for _, i := range e.objectStatements {
		if e.statements[i].matchesKey(key) {
			out = append(out, i)
		}
	}
	return out
}

func (s *statement) matchesKey(key string) bool {
	for i := range s.keys {
		if s.keys[i].match(key) {
			return !s.notResource
		}
	}
	return s.notResource
}

// access works out the Access of an object from the statements whose
// resources match it.
func (e *Evaluator) access(matching []int, ownerOwns bool) *Access {
	return e.evaluate(matching, ownerOwns, func(s *statement) Actions { return s.objectActions })
}

// Bucket returns what the policy says of the bucket itself: who may list
// it or change its access (bucket actions on the bucket's ARN), and who
// may write, delete or change the ACL of some of its objects.
func (e *Evaluator) Bucket() *Access {
	var matching []int
	for i := range e.statements {
		s := &e.statements[i]
		if (s.bucket && s.bucketActions != 0) || (s.someObject && s.objectActions&(Write|Delete|WriteACL) != 0) {
			matching = append(matching, i)
		}
	}
	return e.evaluate(matching, true, func(s *statement) Actions {
		var a Actions
		if s.bucket {
			a |= s.bucketActions
		}
		if s.someObject {
			a |= s.objectActions & (Write | Delete | WriteACL)
		}
		return a
	})
}

func (e *Evaluator) evaluate(matching []int, ownerOwns bool, actionsOf func(*statement) Actions) *Access {
	a := &Access{}
	// Denies first: they reach every object, whoever owns it.
	for _, i := range matching {
		s := &e.statements[i]
		actions := actionsOf(s)
		if !s.deny || actions == 0 || s.unjudged != "" || s.denyOutsider != isTrue {
			continue
		}
		a.denies = append(a.denies, denyRule{s, actions})
		if !s.anyone {
			continue
		}
		switch {
		case s.denyInsider != isTrue:
			a.DeniedOutsiders |= actions
			a.DeniedOutsidersBy = append(a.DeniedOutsidersBy, s.ref)
		default:
			a.DeniedAnonymous |= actions
			a.DeniedAnonymousBy = append(a.DeniedAnonymousBy, s.ref)
			if !exceptsOthers(s.except) {
				a.DeniedAll |= actions
				a.DeniedAllBy = append(a.DeniedAllBy, s.ref)
			}
		}
	}
	if !ownerOwns {
		return a // a bucket policy's Allow reaches only the owner's objects
	}
	for _, i := range matching {
		s := &e.statements[i]
		actions := actionsOf(s)
		if s.deny || actions == 0 {
			continue
		}
		if s.unjudged != "" {
			if s.anyone || hasOther(s.named) {
				a.Unjudged = append(a.Unjudged, Grant{Ref: s.ref, Principal: principalText(s), Actions: actions, Effective: actions, Why: s.unjudged})
				a.UnjudgedActions |= actions
			}
			continue
		}
		if s.anyone {
			g := Grant{Ref: s.ref, Principal: principalText(s), Actions: actions}
			switch {
			case s.allowOutsider == isTrue:
				g.Effective = actions &^ (a.DeniedAnonymous | a.DeniedOutsiders)
				g.DeniedBy = refsFor(actions, a)
				a.Public = append(a.Public, g)
				a.PublicActions |= g.Effective
				a.PublicGranted |= actions
				if spared := actions & a.DeniedOutsiders &^ a.DeniedAnonymous; spared != 0 {
					// The deny spares insiders: they keep what it takes.
					c := Grant{Ref: s.ref, Principal: g.Principal, Actions: spared, Effective: spared,
						Condition: a.outsidersDenied(spared)}
					a.Conditional = append(a.Conditional, c)
					a.ConditionalActions |= spared
					a.ConditionalGranted |= spared
				}
			case s.allowInsider == isTrue:
				g.Condition = s.condition
				g.Effective = actions &^ a.DeniedAnonymous
				if actions&a.DeniedAnonymous != 0 {
					g.DeniedBy = a.DeniedAnonymousBy
				}
				a.Conditional = append(a.Conditional, g)
				a.ConditionalActions |= g.Effective
				a.ConditionalGranted |= actions
			}
		}
		for j := range s.named {
			p := &s.named[j]
			if !p.other() || s.allowInsider == isFalse {
				continue
			}
			denied, by := a.deniedFor(p)
			g := Grant{Ref: s.ref, Principal: p.raw, Actions: actions, Effective: actions &^ denied, DeniedBy: by, Condition: s.condition}
			a.Accounts = append(a.Accounts, g)
			a.AccountActions |= g.Effective
			a.AccountGranted |= actions
		}
	}
	return a
}

// exceptsOthers reports whether a NotPrincipal list spares someone
// outside the owner's account (the deny then does not reach everyone).
func exceptsOthers(except []principal) bool {
	for i := range except {
		if except[i].other() {
			return true
		}
	}
	return false
}

func excepted(except []principal, p *principal) bool {
	for i := range except {
		if samePrincipal(&except[i], p) {
			return true
		}
	}
	return false
}

// samePrincipal compares principals by how they are written, or by the
// canonical ID both name.
func samePrincipal(a, b *principal) bool {
	return (a.raw != "" && a.raw == b.raw) || (a.canonical != "" && a.canonical == b.canonical)
}

func hasOther(ps []principal) bool {
	for i := range ps {
		if ps[i].other() {
			return true
		}
	}
	return false
}

func refsFor(actions Actions, a *Access) []string {
	var by []string
	if actions&a.DeniedAnonymous != 0 {
		by = append(by, a.DeniedAnonymousBy...)
	}
	if actions&a.DeniedOutsiders != 0 {
		by = append(by, a.DeniedOutsidersBy...)
	}
	return by
}

func principalText(s *statement) string {
	if !s.anyone {
		var names []string
		for _, p := range s.named {
			names = append(names, p.raw)
		}
		return strings.Join(names, ", ")
	}
	if len(s.except) == 0 {
		return "*"
	}
	var names []string
	for _, p := range s.except {
		names = append(names, p.raw)
	}
	return "* except " + strings.Join(names, ", ")
}
