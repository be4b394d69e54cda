package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aclscan/aclscan/internal/testkit/fakes3"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
	"github.com/aclscan/aclscan/watch"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// fakeQueue hands out one batch of messages, then ends the watch; it
// records which messages were deleted. (No SQS runs here: radosgw has
// none.)
type fakeQueue struct {
	mu       sync.Mutex
	batch    []types.Message
	given    bool
	cancel   context.CancelFunc
	deleted  []string
	receives int
}

func (q *fakeQueue) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.receives++
	if in.MaxNumberOfMessages != 10 || in.WaitTimeSeconds != 20 {
		return nil, context.Canceled
	}
	if q.given {
		q.cancel()
		return nil, ctx.Err()
	}
	q.given = true
	return &sqs.ReceiveMessageOutput{Messages: q.batch}, nil
}

func (q *fakeQueue) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.deleted = append(q.deleted, *in.ReceiptHandle)
	return &sqs.DeleteMessageOutput{}, nil
}

// The SQS consumer deletes a message judged whole and one that holds no
// event (S3's test event), and leaves one whose objects could not be
// judged for the queue to deliver again.
func TestConsumeSQS(t *testing.T) {
	t.Parallel()
	fake := fakes3.New()
	fake.BucketACL = fakes3.Answer{Status: 200, Body: `<AccessControlPolicy><Owner><ID>owner</ID></Owner><AccessControlList/></AccessControlPolicy>`}
	fake.Put("uploads/a.png", 200, `<AccessControlPolicy><Owner><ID>owner</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`)
	// The bucket "gone" fails every request.
	fake.Hook = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if strings.HasPrefix(r.URL.Path, "/gone") {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(fakes3.ErrorXML("InternalError")))
			return true
		}
		return false
	}
	client, err := s3access.New(context.Background(), s3access.Options{EndpointURL: fake.URL(t), MaxAttempts: 1, Credentials: s3access.StaticCredentials("AKIDTEST", "test-secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	msg := func(id, body string) types.Message {
		return types.Message{MessageId: &id, ReceiptHandle: &id, Body: &body}
	}
	record := func(bucket string) string {
		return `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"` + bucket + `"},"object":{"key":"uploads%2Fa.png"}}}]}`
	}
	ctx, cancel := context.WithCancel(context.Background())
	queue := &fakeQueue{cancel: cancel, batch: []types.Message{
		msg("m1", record("b")),
		msg("m2", `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-12-07T12:00:00.000Z","Bucket":"b"}`),
		msg("m3", record("gone")),
		// CloudTrail's record of Block Public Access turned off (its
		// event name, not the API's): the context is read again, said.
		msg("m4", `{"version":"0","id":"c1","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":{"eventSource":"s3.amazonaws.com","eventName":"DeleteBucketPublicAccessBlock","requestParameters":{"bucketName":"b"}}}`),
	}}
	var out, stderr bytes.Buffer
	writer, _ := report.New(report.FormatJSONL, &out, report.Options{})
	run := &watchRun{sh: &shell{stdout: &out, stderr: &stderr}, writer: writer, sum: &scan.Summary{},
		w: &watch.Watcher{API: client, Allowed: func(b string) bool { return b == "b" || b == "gone" }}}
	if err := run.consumeSQS(ctx, queue, "https://sqs.example/queue"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(queue.deleted, ",") != "m1,m2,m4" {
		t.Errorf("deleted %v; want m1 (judged), m2 (not events) and m4 (a settings change, handled), not m3", queue.deleted)
	}
	if !strings.Contains(stderr.String(), `"DeleteBucketPublicAccessBlock" on bucket "b": its settings are read again`) {
		t.Errorf("stderr %q; want the settings change said, with the scan to run", stderr.String())
	}
	if !strings.Contains(out.String(), `"bucket":"b","key":"uploads/a.png"`) {
		t.Errorf("records %q; want the object of m1", out.String())
	}
	if !strings.Contains(stderr.String(), "not judged whole") {
		t.Errorf("stderr %q; want m3's failure said", stderr.String())
	}
}
