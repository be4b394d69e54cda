package policy

import "strings"

// Action is one S3 action aclscan judges a policy for.
type Action uint8

// Object actions, then bucket actions.
const (
	GetObject Action = iota
	GetObjectVersion
	GetObjectAcl
	GetObjectVersionAcl
	PutObjectAcl
	PutObjectVersionAcl
	PutObject
	DeleteObject
	DeleteObjectVersion
	ListBucket
	ListBucketVersions
	ListBucketMultipartUploads
	GetBucketAcl
	PutBucketAcl
	GetBucketPolicy
	PutBucketPolicy
	DeleteBucketPolicy
	DeleteBucket
	PutBucketPublicAccessBlock
	PutBucketOwnershipControls
	numActions
)

var actionNames = [numActions]string{
	"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAcl", "s3:GetObjectVersionAcl",
	"s3:PutObjectAcl", "s3:PutObjectVersionAcl", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion",
	"s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads", "s3:GetBucketAcl", "s3:PutBucketAcl",
	"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:DeleteBucket",
	"s3:PutBucketPublicAccessBlock", "s3:PutBucketOwnershipControls",
}

func (a Action) String() string { return actionNames[a] }

// Actions is a set of actions.
type Actions uint32

// Sets of actions by what they let a principal do.
const (
	// Read: the object's data (GetObject, and GetObjectVersion for any
	// of its versions).
	Read Actions = 1<<GetObject | 1<<GetObjectVersion
	// ReadACL and WriteACL: the object's ACL.
	ReadACL  Actions = 1<<GetObjectAcl | 1<<GetObjectVersionAcl
	WriteACL Actions = 1<<PutObjectAcl | 1<<PutObjectVersionAcl
	// Write and Delete: overwrite or delete the object.
	Write  Actions = 1 << PutObject
	Delete Actions = 1<<DeleteObject | 1<<DeleteObjectVersion
	// ObjectActions are every object action judged.
	ObjectActions = Read | ReadACL | WriteACL | Write | Delete
	// List: list the bucket's keys or versions or uploads.
	List Actions = 1<<ListBucket | 1<<ListBucketVersions | 1<<ListBucketMultipartUploads
	// ChangeAccess: change the bucket's ACL, policy or Block Public Access,
	// or delete the bucket.
	ChangeAccess Actions = 1<<PutBucketAcl | 1<<PutBucketPolicy | 1<<DeleteBucketPolicy |
		1<<PutBucketPublicAccessBlock | 1<<PutBucketOwnershipControls | 1<<DeleteBucket
	// VersionActions act on a version named by its ID.
	VersionActions Actions = 1<<GetObjectVersion | 1<<GetObjectVersionAcl | 1<<PutObjectVersionAcl | 1<<DeleteObjectVersion
	// CurrentActions act on an object's current version, asked for
	// without a version ID: what an unversioned scan judges.
	CurrentActions = ObjectActions &^ VersionActions
	// BucketActions are every bucket action judged.
	BucketActions = List | ChangeAccess | 1<<GetBucketAcl | 1<<GetBucketPolicy
	allActions    = ObjectActions | BucketActions
)

// Has reports whether a is in the set.
func (s Actions) Has(a Action) bool { return s&(1<<a) != 0 }

// Names lists the actions' names, in a fixed order.
func (s Actions) Names() []string {
	out := make([]string, 0, 4)
	for a := Action(0); a < numActions; a++ {
		if s.Has(a) {
			out = append(out, actionNames[a])
		}
	}
	return out
}

// String renders the set compactly for people.
func (s Actions) String() string { return strings.Join(s.Names(), " ") }

// actionsMatching returns the judged actions an Action element's patterns
// name (case-insensitively, with * and ?).
func actionsMatching(patterns []string) Actions {
	var set Actions
	for _, p := range patterns {
		tokens := compilePattern(strings.ToLower(p), false).tokens
		for a := Action(0); a < numActions; a++ {
			if match(tokens, text{tail: strings.ToLower(actionNames[a])}) {
				set |= 1 << a
			}
		}
	}
	return set
}
