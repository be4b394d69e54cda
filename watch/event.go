// Package watch judges objects the moment S3 says they changed: each
// announced object is read as it is now (its ACL fetched, never trusted
// from the event, which comes late, twice or out of order) and judged
// with its bucket's context, cached for a while. Events come from S3
// event notification records (AWS: to SQS, SNS or Lambda; radosgw and
// MinIO: pushed over HTTP) and from EventBridge.
package watch

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Event is one announced change of an object.
type Event struct {
	Bucket, Key, VersionID string
	// Name is what happened, as the source says it ("ObjectCreated:Put",
	// "ObjectAcl:Put", "Object Created", "Object ACL Updated").
	Name string
	// Source is where the event came from: "aws:s3" (notification
	// records), "ceph:s3" (radosgw), "minio:s3", "aws.s3" (EventBridge).
	Source string
	// ID names the event when the source gives one (EventBridge's id, a
	// record's sequencer or x-amz-request-id); Time is when it happened.
	ID   string
	Time time.Time
	// KeyMaybeEncoded is set when the source does not say whether the key
	// is URL-encoded (EventBridge): a key that is not found is tried once
	// more decoded.
	KeyMaybeEncoded bool
}

// Judged reports whether the event announces an object whose ACL may
// have changed (created, copied, its ACL put); removals and restores do
// not.
func (e *Event) Judged() bool {
	n := strings.ToLower(e.Name)
	return strings.HasPrefix(n, "objectcreated") || strings.HasPrefix(n, "objectacl") ||
		n == "object created" || n == "object acl updated"
}

// ErrNotEvents is a body that holds no event this package reads.
var ErrNotEvents = errors.New("not S3 event notification records or an EventBridge S3 event")

// maxEvents bounds the events of one body: S3 sends one record per
// notification; a flood is refused, not held.
const maxEvents = 1000

// ErrBadRecords marks records of a delivery that could not be read: the
// others are returned, and judged.
var ErrBadRecords = errors.New("records not read")

// Decode reads the events of one delivery: S3 event notification records
// ({"Records": [...]}) or one EventBridge S3 event. Keys are decoded as
// their source encodes them: URL-encoded (a space as "+") in AWS's
// records, raw in radosgw's and MinIO's. A record that cannot be read is
// named in an error wrapping ErrBadRecords, and the others are returned:
// one bad record does not hold back the rest of its delivery.
func Decode(body []byte) ([]Event, error) {
	var shape struct {
		Records    []json.RawMessage `json:"Records"`
		Source     string            `json:"source"`
		DetailType string            `json:"detail-type"`
		Detail     json.RawMessage   `json:"detail"`
		ID         string            `json:"id"`
		Time       time.Time         `json:"time"`
	}
	if err := json.Unmarshal(body, &shape); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotEvents, err)
	}
	switch {
	case shape.Records != nil:
		if len(shape.Records) > maxEvents {
			return nil, fmt.Errorf("%d records in one delivery; at most %d are read", len(shape.Records), maxEvents)
		}
		events := make([]Event, 0, len(shape.Records))
		var bad []string // one line for all of them: it goes to a log
		for i, raw := range shape.Records {
			e, err := decodeRecord(raw)
			if err != nil {
				bad = append(bad, fmt.Sprintf("record %d: %v", i+1, err))
				continue
			}
			events = append(events, e)
		}
		if len(bad) > 0 {
			return events, fmt.Errorf("%w: %s", ErrBadRecords, strings.Join(bad, "; "))
		}
		return events, nil
	case shape.Source == "aws.s3" && shape.Detail != nil:
		var d struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key       string `json:"key"`
				VersionID string `json:"version-id"`
			} `json:"object"`
		}
		if err := json.Unmarshal(shape.Detail, &d); err != nil {
			return nil, fmt.Errorf("EventBridge detail: %v", err)
		}
		if d.Bucket.Name == "" || d.Object.Key == "" {
			return nil, errors.New("EventBridge S3 event without detail.bucket.name or detail.object.key")
		}
		return []Event{{Bucket: d.Bucket.Name, Key: d.Object.Key, VersionID: d.Object.VersionID, Name: shape.DetailType,
			Source: shape.Source, ID: shape.ID, Time: shape.Time, KeyMaybeEncoded: true}}, nil
	}
	return nil, ErrNotEvents
}

// decodeRecord reads one S3 event notification record.
func decodeRecord(raw json.RawMessage) (Event, error) {
	var r struct {
		EventSource string    `json:"eventSource"`
		EventName   string    `json:"eventName"`
		EventTime   time.Time `json:"eventTime"`
		S3          struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key       string `json:"key"`
				VersionID string `json:"versionId"`
				Sequencer string `json:"sequencer"`
			} `json:"object"`
		} `json:"s3"`
		ResponseElements struct {
			RequestID string `json:"x-amz-request-id"`
		} `json:"responseElements"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return Event{}, fmt.Errorf("not an S3 event record: %v", err)
	}
	if r.S3.Bucket.Name == "" || r.S3.Object.Key == "" {
		return Event{}, errors.New("no s3.bucket.name or s3.object.key")
	}
	key := r.S3.Object.Key
	if r.EventSource == "aws:s3" {
		// AWS URL-encodes keys in its records, with "+" for a space.
		decoded, err := url.QueryUnescape(key)
		if err != nil {
			return Event{}, fmt.Errorf("key %q is not URL-encoded as AWS's records are: %v", key, err)
		}
		key = decoded
	}
	id := r.S3.Object.Sequencer
	if id == "" {
		id = r.ResponseElements.RequestID
	}
	return Event{Bucket: r.S3.Bucket.Name, Key: key, VersionID: r.S3.Object.VersionID, Name: r.EventName,
		Source: r.EventSource, ID: id, Time: r.EventTime}, nil
}

// DecodeMessage reads the events of a queued message: what Decode reads,
// also inside an SNS notification (S3 -> SNS -> SQS without raw delivery).
func DecodeMessage(body []byte) ([]Event, error) {
	var n struct {
		Type    string `json:"Type"`
		Message string `json:"Message"`
	}
	if json.Unmarshal(body, &n) == nil && n.Type == "Notification" && n.Message != "" {
		body = []byte(n.Message)
	}
	return Decode(body)
}
