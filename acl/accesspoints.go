package acl

import (
	"strings"
	"time"

	"github.com/aclscan/aclscan/policy"
)

// DoorAccessPointPrefix names an access point's door: "access-point:" +
// its name.
const DoorAccessPointPrefix = "access-point:"

// apDoor is one access point as the judge sees it. A request through it
// needs both its policy and the bucket's side (the bucket policy, seen
// with the access point's s3:DataAccessPoint* keys, or the ACL) to
// allow it: AWS evaluates the two together.
type apDoor struct {
	door string
	// policy is the access point's own (nil: it has none, and grants
	// nothing to anyone outside the account); via is the bucket policy
	// as requests through the access point see it (nil: none).
	policy, via *policy.Evaluator
	// unjudged says why the access point could not be judged.
	unjudged string
	// vpc names the only VPC requests may come from ("" for Internet).
	vpc string
	// ignoreACLs: IgnorePublicAcls at any level, the access point's too.
	ignoreACLs bool
	// restrict names the RestrictPublicBuckets settings that make its
	// public policy's grants latent.
	restrict []string
}

// setAccessPoints prepares the judge of the bucket's access points.
func (j *Judge) setAccessPoints(c *BucketContext) {
	d := &j.doors
	if !c.AccessPoints.Known {
		d.accessPointsProblem = c.AccessPoints.Problem
		if d.accessPointsProblem == "" {
			d.accessPointsProblem = "not read"
		}
		return
	}
	var bucketDoc *policy.Document
	if c.Policy.Known && c.Policy.Value != "" {
		bucketDoc, _ = policy.Parse([]byte(c.Policy.Value)) // its problems are the bucket policy's, said once
	}
	now := time.Now()
	for _, ap := range c.AccessPoints.Value {
		door := apDoor{door: DoorAccessPointPrefix + ap.Name, ignoreACLs: c.IgnoresPublicACLs() || (ap.Block.Known && ap.Block.Value.IgnorePublicACLs)}
		if ap.NetworkOrigin == "VPC" {
			door.vpc = ap.VpcID
			if door.vpc == "" {
				door.vpc = "its VPC"
			}
		}
		env := policy.Env{Bucket: c.Bucket, Partition: c.Partition, OwnerAccount: c.Account, OwnerCanonical: c.Owner,
			UsersAreAccounts: c.UsersAreAccounts}
		switch {
		case !ap.Policy.Known:
			door.unjudged = "the policy of access point " + ap.Name + " is unknown (" + ap.Policy.Problem + ")"
		case ap.Policy.Value != "":
			doc, err := policy.Parse([]byte(ap.Policy.Value))
			if err != nil {
				door.unjudged = "the policy of access point " + ap.Name + " cannot be judged: " + err.Error()
				break
			}
			apEnv := env
			apEnv.AccessPointARN = ap.ARN
			door.policy = policy.Compile(doc, apEnv, now)
			if door.policy.Public {
				if c.AccountBlock.Known && c.AccountBlock.Value.RestrictPublicBuckets {
					door.restrict = append(door.restrict, BlockedByAccountRestrict)
				}
				if c.BucketBlock.Known && c.BucketBlock.Value.RestrictPublicBuckets {
					door.restrict = append(door.restrict, BlockedByBucketRestrict)
				}
				if ap.Block.Known && ap.Block.Value.RestrictPublicBuckets {
					door.restrict = append(door.restrict, door.door+":RestrictPublicBuckets")
				}
			}
		}
		if bucketDoc != nil {
			viaEnv := env
			viaEnv.Fixed = map[string]string{"s3:dataaccesspointarn": ap.ARN, "s3:dataaccesspointaccount": c.Account}
			door.via = policy.Compile(bucketDoc, viaEnv, now)
		}
		d.accessPoints = append(d.accessPoints, door)
	}
}

// AccessPointsProblem says why the bucket's access points were not
// judged ("" when they were).
func (j *Judge) AccessPointsProblem() string { return j.doors.accessPointsProblem }

// apAccess is what one access point opens on one object.
type apAccess struct {
	public, conditional, accounts, unjudged policy.Actions
	a1, a2                                  *policy.Access
}

// through works out what the access point opens on an object, given what
// its ACL grants anyone (aclAnyone) and the actions that reach it.
func (ap *apDoor) through(empty *policy.Access, key string, ownerOwns bool, aclAnyone, reach policy.Actions) apAccess {
	out := apAccess{a1: empty, a2: empty}
	if ap.policy == nil {
		return out
	}
	a1 := ap.policy.Object(key, ownerOwns)
	out.a1 = a1
	if (a1.PublicGranted|a1.ConditionalGranted|a1.AccountGranted|a1.UnjudgedActions)&reach == 0 {
		return out
	}
	if ap.via != nil {
		out.a2 = ap.via.Object(key, ownerOwns)
	}
	a2 := out.a2
	if ap.ignoreACLs {
		aclAnyone = 0
	}
	bucketAnyone := a2.PublicActions | aclAnyone
	out.public = a1.PublicActions & bucketAnyone & reach
	out.conditional = (a1.ConditionalActions&(bucketAnyone|a2.ConditionalActions) | a1.PublicActions&a2.ConditionalActions) & reach
	out.accounts = a1.AccountActions & (bucketAnyone | a2.ConditionalActions | a2.AccountActions) & reach
	out.unjudged = (a1.UnjudgedActions | a2.UnjudgedActions) & reach
	if ap.vpc != "" {
		out.conditional |= out.public
		out.public = 0
	}
	return out
}

// accessPointFindings adds the access points' doors to an object's
// findings: found, effective, and those latent by RestrictPublicBuckets.
func (j *Judge) accessPointFindings(key string, ownerOwns bool, grants []Grant, reach policy.Actions) (found, effective, restricted Findings) {
	d := &j.doors
	var aclAnyone policy.Actions
	if !d.ownerEnforced {
		for i := range grants {
			if grants[i].Type == TypeGroup && isGroup(grants[i].URI, AllUsersURI) {
				aclAnyone |= PermissionActions(grants[i].Permission)
			}
		}
	}
	for i := range d.accessPoints {
		ap := &d.accessPoints[i]
		if ap.unjudged != "" {
			found, effective = found.With(PolicyUnjudged), effective.With(PolicyUnjudged)
			continue
		}
		x := ap.through(d.empty, key, ownerOwns, aclAnyone, reach)
		var f Findings
		if x.public != 0 {
			f = f.With(Public)
		}
		if x.conditional != 0 {
			f = f.With(Conditional)
		}
		if x.accounts != 0 {
			f = f.With(CrossAccount)
		}
		found |= f
		if len(ap.restrict) > 0 {
			restricted |= f
		} else {
			effective |= f
		}
		if x.unjudged != 0 {
			found, effective = found.With(PolicyUnjudged), effective.With(PolicyUnjudged)
		}
	}
	return found, effective, restricted
}

// accessPointSources explains the access points' doors to an object.
func (d Doors) accessPointSources(objectKey, objectOwner string, grants []Grant) []Source {
	j := d.judge
	var out []Source
	ownerOwns := objectOwner == "" || j.BucketOwner == "" || objectOwner == j.BucketOwner || j.doors.ownerEnforced
	var aclAnyone policy.Actions
	if !j.doors.ownerEnforced {
		for i := range grants {
			if grants[i].Type == TypeGroup && isGroup(grants[i].URI, AllUsersURI) {
				aclAnyone |= PermissionActions(grants[i].Permission)
			}
		}
	}
	for i := range j.doors.accessPoints {
		ap := &j.doors.accessPoints[i]
		if ap.unjudged != "" {
			out = append(out, Source{Finding: PolicyUnjudged.String(), Door: ap.door, Actions: []string{}, Effective: true, Note: ap.unjudged})
			continue
		}
		x := ap.through(j.doors.empty, objectKey, ownerOwns, aclAnyone, d.actions)
		note := ""
		if len(ap.restrict) > 0 {
			note = "limited to the owner's account by " + strings.Join(ap.restrict, ", ")
		}
		add := func(kind Kind, actions policy.Actions, grants []policy.Grant, condition string) {
			if actions == 0 {
				return
			}
			for _, g := range grants {
				if g.Effective&actions == 0 {
					continue
				}
				cond := g.Condition
				if condition != "" {
					cond = strings.TrimPrefix(cond+"; "+condition, "; ")
				}
				out = append(out, Source{Finding: kind.String(), Door: ap.door, Ref: g.Ref, Principal: g.Principal,
					Actions: (g.Effective & actions).Names(), Condition: cond, Effective: note == "", Note: note})
			}
		}
		vpc := ""
		if ap.vpc != "" {
			vpc = "requests from " + ap.vpc + " only (the access point's network origin)"
		}
		add(Public, x.public, x.a1.Public, "")
		add(Conditional, x.conditional, append(append([]policy.Grant(nil), x.a1.Conditional...), x.a1.Public...), vpc)
		add(CrossAccount, x.accounts, x.a1.Accounts, "")
		for _, g := range x.a1.Unjudged {
			out = append(out, Source{Finding: PolicyUnjudged.String(), Door: ap.door, Ref: g.Ref, Principal: g.Principal,
				Actions: (g.Actions & d.actions).Names(), Effective: true, Note: g.Why})
		}
	}
	return out
}
