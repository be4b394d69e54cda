package scan

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/s3access"
)

// API is the part of the S3 client the engine uses; *s3access.Client has
// it. The per-object call, the hot path, returns aclscan's own ACL model;
// listing pages come in one shape for objects and versions.
type API interface {
	// ListPage lists one page of objects or versions.
	ListPage(ctx context.Context, req *s3access.ListRequest) (*s3access.ListPage, error)
	// BucketContext reads the bucket's settings that decide what its ACLs
	// grant (see s3access.Client.BucketContext); an error means the
	// bucket cannot be scanned.
	BucketContext(ctx context.Context, bucket string) (acl.BucketContext, error)
	// GetObjectACL reads one object's ACL; versionID "" means the current version.
	GetObjectACL(ctx context.Context, bucket, key, versionID string) (acl.Policy, error)
	// VersionExists asks whether a version exists (HeadObject); it
	// checks a "no such key" answer to a version's ACL request.
	VersionExists(ctx context.Context, bucket, key, versionID string) (bool, error)
	// ServedAnonymously asks with an unsigned request whether S3 serves
	// the object to anyone (Config.VerifyPublic).
	ServedAnonymously(ctx context.Context, bucket, key, versionID string) (bool, error)
}

// Object is one object (or version) a source hands to the pipeline: what
// is known of it before its ACL is resolved.
type Object struct {
	Key       string
	VersionID string // set in version scans
	IsLatest  bool
	// OwnerID is the owner as the source knows it (a listing, an
	// inventory); the ACL's owner, once read, replaces it.
	OwnerID string
	// Policy is the object's ACL when the source already holds it (an
	// inventory row, a report); Known says so, and the Given resolver
	// hands it on without a request.
	Policy acl.Policy
	Known  bool
	// Unavailable is set when the source knows the ACL exists but holds
	// no copy of it (an inventory row whose ACL status is UNAVAILABLE):
	// the object is reported with status unavailable.
	Unavailable bool
	// DeleteMarker is a version without an ACL: counted, not judged or
	// reported.
	DeleteMarker bool

	place place
}

// Tracker learns which of a resumable source's objects have been
// reported (their results given to the sink), from the goroutine that
// writes results: what a checkpoint may count as done.
type Tracker interface {
	Reported(seq int64)
}

// Track asks for t.Reported(seq) once the object is reported.
func (o *Object) Track(t Tracker, seq int64) { o.place = place{t: t, seq: seq} }

// place is where a source keeps an object, to mark it reported (for
// checkpoints). Sources without checkpoints leave it zero.
type place struct {
	t   Tracker
	seq int64
}

func (p place) done() {
	if p.t != nil {
		p.t.Reported(p.seq)
	}
}

// ResumableSource is a source other than the live listing that takes
// checkpoints: Position says where it stands, as JSON the source reads
// back to start again from there (a shell builds it so from
// State.Source). Position is called from the goroutine that writes
// results, and covers everything reported so far.
type ResumableSource interface {
	Source
	Position() (json.RawMessage, error)
}

// Source produces the objects a scan judges, calling emit for each, and
// stops at emit's first error. Sources that emit from several goroutines
// say so; the engine's emit is safe for that.
type Source interface {
	Objects(ctx context.Context, emit func(Object) error) error
}

// SourceFunc is a function used as a Source.
type SourceFunc func(ctx context.Context, emit func(Object) error) error

// Objects calls f.
func (f SourceFunc) Objects(ctx context.Context, emit func(Object) error) error { return f(ctx, emit) }

// Objects is a source of the given objects, in order: a batch handed in
// by an engine, a report to act on.
func Objects(objects []Object) Source {
	return SourceFunc(func(ctx context.Context, emit func(Object) error) error {
		for i := range objects {
			if err := emit(objects[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// prober is a source that can tell whether the endpoint answers (a
// listing: one small list request). For other sources the engine asks
// the resolver again for the object that failed.
type prober interface {
	probe(ctx context.Context) error
}

// Resolver gives an object its ACL (owner and grants). An error is
// judged by what it says: access denied makes the object unreadable, not
// found makes it missing, anything else an error, retried as the engine
// retries failures.
//
// The object comes by value: a pointer passed through the interface would
// move every object to the heap, one allocation per object.
type Resolver interface {
	Resolve(ctx context.Context, bucket string, obj Object) (acl.Policy, error)
}

// ResolverFunc is a function used as a Resolver.
type ResolverFunc func(ctx context.Context, bucket string, obj Object) (acl.Policy, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(ctx context.Context, bucket string, obj Object) (acl.Policy, error) {
	return f(ctx, bucket, obj)
}

// GetObjectACL resolves each object with a GetObjectAcl request (with the
// version ID for versions): the live scan's resolver. A version whose ACL
// request is answered "no such key" is looked up (HeadObject): MinIO gives
// that answer for versions behind a delete marker, which exist, and such a
// version is an error with the server's answer, not a missing object.
func GetObjectACL(api API) Resolver {
	return ResolverFunc(func(ctx context.Context, bucket string, obj Object) (acl.Policy, error) {
		policy, err := api.GetObjectACL(ctx, bucket, obj.Key, obj.VersionID)
		if err == nil || obj.VersionID == "" || !s3access.IsNotFound(err) {
			return policy, err
		}
		if exists, herr := api.VersionExists(ctx, bucket, obj.Key, obj.VersionID); herr == nil && exists {
			return policy, &RefusedError{Reason: "the server answered " + s3access.Short(err) + " for the ACL of a version that exists (HeadObject finds it)"}
		}
		return policy, err
	})
}

// RefusedError is a definite answer about one object that is neither its
// ACL nor its absence: the object is reported with status error at once,
// not held as a failure that retrying might cure.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// ErrUnavailable is a resolver's answer for an object whose ACL exists
// but is not available to it: the object's status is unavailable.
var ErrUnavailable = errors.New("the source holds no copy of this object's ACL")

// Given resolves each object with the ACL its source already holds, with
// no request; an object without one is an error.
func Given() Resolver {
	return ResolverFunc(func(_ context.Context, _ string, obj Object) (acl.Policy, error) {
		if obj.Unavailable {
			return acl.Policy{}, ErrUnavailable
		}
		if !obj.Known {
			return acl.Policy{}, errNoPolicy
		}
		return obj.Policy, nil
	})
}

// errNoPolicy is an object handed to the Given resolver without its ACL:
// definite, nothing to retry.
var errNoPolicy = &RefusedError{Reason: "the source gave no ACL for this object"}
