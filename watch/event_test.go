package watch

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "aws", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// AWS's own event samples (aws-lambda-go's S3 event fixtures, the S3
// User Guide's EventBridge example), radosgw's push (keys raw, as
// test-stack.md records them), and what is refused.
func TestDecode(t *testing.T) {
	t.Parallel()
	radosgw := `{"Records":[{"eventVersion":"2.2","eventSource":"ceph:s3","eventTime":"2026-12-07T10:00:00.000Z","eventName":"ObjectCreated:Put",` +
		`"s3":{"bucket":{"name":"b"},"object":{"key":"a b+c%41.txt","versionId":"","sequencer":"17E1"}}}]}`
	for _, tc := range []struct {
		name string
		body []byte
		want Event
	}{
		{"s3-event.json", sample(t, "s3-event.json"), Event{Bucket: "sourcebucket", Key: "HappyFace.jpg", VersionID: "version", Name: "ObjectCreated:Put",
			Source: "aws:s3", ID: "Happy Sequencer", Time: time.Date(1970, 1, 1, 0, 0, 0, 123e6, time.UTC)}},
		{"s3-event-with-decoded.json", sample(t, "s3-event-with-decoded.json"), Event{Bucket: "sourcebucket", Key: "Happy Face.jpg", VersionID: "version",
			Name: "ObjectCreated:Put", Source: "aws:s3", ID: "Happy Sequencer", Time: time.Date(1970, 1, 1, 0, 0, 0, 123e6, time.UTC)}},
		{"eventbridge-object-created.json", sample(t, "eventbridge-object-created.json"), Event{Bucket: "amzn-s3-demo-bucket1", Key: "example-key",
			VersionID: "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", Name: "Object Created", Source: "aws.s3", ID: "17793124-05d4-b198-2fde-7ededc63b103",
			Time: time.Date(2021, 11, 12, 0, 0, 0, 0, time.UTC), KeyMaybeEncoded: true}},
		{"radosgw push", []byte(radosgw), Event{Bucket: "b", Key: "a b+c%41.txt", Name: "ObjectCreated:Put", Source: "ceph:s3", ID: "17E1",
			Time: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}},
	} {
		events, err := Decode(tc.body)
		if err != nil || len(events) != 1 || events[0] != tc.want || !events[0].Judged() {
			t.Errorf("%s: %+v, %v\nwant %+v", tc.name, events, err, tc.want)
		}
	}
	aclPut := `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectAcl:Put","s3":{"bucket":{"name":"b"},"object":{"key":"a+b%2Bc"}}}]}`
	if events, err := Decode([]byte(aclPut)); err != nil || events[0].Key != "a b+c" || !events[0].Judged() {
		t.Errorf("an ACL change: %+v, %v; want key \"a b+c\" (AWS's + is a space)", events, err)
	}
	removed := `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`
	if events, _ := Decode([]byte(removed)); len(events) != 1 || events[0].Judged() {
		t.Errorf("a removal is not judged: %+v", events)
	}
	mixed := `{"Records":[{"eventSource":"ceph:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"good"}}},` +
		`{"eventSource":"aws:s3","s3":{"bucket":{"name":"b"},"object":{"key":"100%"}}}]}`
	if events, err := Decode([]byte(mixed)); len(events) != 1 || events[0].Key != "good" || !errors.Is(err, ErrBadRecords) || !strings.Contains(err.Error(), "record 2") || strings.Contains(err.Error(), "\n") {
		t.Errorf("a bad record among good ones: %+v, %v; want the good one and the bad one named, in one line", events, err)
	}
	for name, tc := range map[string]struct{ body, want string }{
		"not JSON":        {"<xml/>", "not S3 event notification records"},
		"another service": {`{"source":"aws.ec2","detail-type":"x","detail":{}}`, "not S3 event notification records"},
		"no key":          {`{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"b"},"object":{}}}]}`, "record 1: no s3.bucket.name or s3.object.key"},
		"bad encoding":    {`{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"b"},"object":{"key":"100%"}}}]}`, "is not URL-encoded"},
		"flood":           {`{"Records":[` + strings.Repeat(`{},`, 1000) + `{}]}`, "at most 1000"},
	} {
		if _, err := Decode([]byte(tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", name, err, tc.want)
		}
	}
}
