package scan

import (
	"context"
	"fmt"
	"testing"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/s3access"
)

// fixedACL answers every request at once with one ACL: the engine's own
// cost per object, without a network.
type fixedACL struct {
	ownerContext
	policy acl.Policy
}

func (fixedACL) ListPage(context.Context, *s3access.ListRequest) (*s3access.ListPage, error) {
	return &s3access.ListPage{}, nil
}
func (f fixedACL) GetObjectACL(context.Context, string, string, string) (acl.Policy, error) {
	return f.policy, nil
}
func (fixedACL) VersionExists(context.Context, string, string, string) (bool, error) {
	return true, nil
}

// BenchmarkPipelinePerObject is the engine's CPU and allocations per
// object (queue, pool, resolver, judge, one writer), 10,000 objects a
// run: go test ./scan -run '^$' -bench PipelinePerObject -benchmem.
func BenchmarkPipelinePerObject(b *testing.B) {
	const n = 10000
	objects := make([]Object, n)
	for i := range objects {
		objects[i] = Object{Key: fmt.Sprintf("k/%05d", i), OwnerID: "owner"}
	}
	api := fixedACL{policy: acl.Policy{Owner: "owner", Grants: []acl.Grant{{Type: acl.TypeCanonicalUser, ID: "owner", Permission: "FULL_CONTROL"}}}}
	discard := SinkFunc(func(*Result) error { return nil })
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Run(context.Background(), api, Config{Bucket: "b", Concurrency: 64, Source: Objects(objects)}, discard, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/object")
}

// ownerContext answers the bucket-level calls of the test stubs: the
// owner is "owner", no setting blocks anything, nothing is served.
type ownerContext struct{}

func (ownerContext) BucketContext(context.Context, string) (acl.BucketContext, error) {
	return acl.BucketContext{Owner: "owner", Policy: acl.Read(""), ACL: acl.Read([]acl.Grant(nil))}, nil
}
func (ownerContext) ServedAnonymously(context.Context, string, string, string) (bool, error) {
	return false, nil
}
