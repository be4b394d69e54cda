package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/scan"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// FindingDetailType is the detail-type of the findings the function puts
// on an EventBridge bus: what a rule matches to route them.
const FindingDetailType = "aclscan Finding"

// publisher sends a watch's new findings where people are alerted: an
// EventBridge bus (FINDINGS_EVENT_BUS) and/or an SNS topic
// (FINDINGS_TOPIC_ARN), each finding as its JSON record. Findings an
// accepted-exposure rule accepts are not sent: intended exposure raises
// no alert.
type publisher struct {
	bus, topic  string
	events, sns *awsCall
}

func newPublisher(cfg aws.Config, bus, topic, eventsEndpoint, snsEndpoint string) *publisher {
	if bus == "" && topic == "" {
		return nil
	}
	return &publisher{bus: bus, topic: topic, events: newAWSCall(cfg, "events", eventsEndpoint), sns: newAWSCall(cfg, "sns", snsEndpoint)}
}

// alerting are the records worth an alert: an effective finding no rule
// accepts.
func alerting(records []scan.Result) []report.Record {
	var out []report.Record
	for i := range records {
		if r := &records[i]; r.Effective&^r.Accepted != 0 {
			out = append(out, report.NewRecord(r))
		}
	}
	return out
}

// publish sends the records' alerts; it returns how many were sent.
func (p *publisher) publish(ctx context.Context, records []scan.Result) (int, error) {
	if p == nil {
		return 0, nil
	}
	alerts := alerting(records)
	var errs []error
	if p.bus != "" {
		errs = append(errs, p.putEvents(ctx, alerts))
	}
	if p.topic != "" {
		for _, rec := range alerts {
			errs = append(errs, p.publishSNS(ctx, rec))
		}
	}
	return len(alerts), errors.Join(errs...)
}

// putEvents puts the alerts on the bus, ten per PutEvents call (its
// limit), source "aclscan", detail-type FindingDetailType.
func (p *publisher) putEvents(ctx context.Context, alerts []report.Record) error {
	type entry struct {
		EventBusName string `json:"EventBusName"`
		Source       string `json:"Source"`
		DetailType   string `json:"DetailType"`
		Detail       string `json:"Detail"`
		Resources    []string
	}
	for start := 0; start < len(alerts); start += 10 {
		var entries []entry
		for _, rec := range alerts[start:min(start+10, len(alerts))] {
			detail, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			entries = append(entries, entry{EventBusName: p.bus, Source: "aclscan", DetailType: FindingDetailType, Detail: string(detail),
				Resources: []string{"arn:aws:s3:::" + rec.Bucket + "/" + rec.Key}})
		}
		body, _ := json.Marshal(map[string]any{"Entries": entries})
		status, answer, err := p.events.post(ctx, "/", map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSEvents.PutEvents"}, body)
		if err != nil {
			return fmt.Errorf("EventBridge PutEvents: %w", err)
		}
		var out struct {
			FailedEntryCount int `json:"FailedEntryCount"`
		}
		if status != http.StatusOK || json.Unmarshal(answer, &out) != nil || out.FailedEntryCount > 0 {
			return fmt.Errorf("EventBridge PutEvents to %s: HTTP %d: %s", p.bus, status, answer)
		}
	}
	return nil
}

// publishSNS publishes one alert on the topic.
func (p *publisher) publishSNS(ctx context.Context, rec report.Record) error {
	message, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	// SNS subjects are ASCII without control characters: the key (any
	// bytes) stays in the message.
	form := url.Values{"Action": {"Publish"}, "Version": {"2010-03-31"}, "TopicArn": {p.topic}, "Message": {string(message)},
		"Subject": {"aclscan: object exposed (" + strings.Join(rec.Effective, ", ") + ")"}}
	status, answer, err := p.sns.post(ctx, "/", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, []byte(form.Encode()))
	if err != nil {
		return fmt.Errorf("SNS Publish: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("SNS Publish to %s: HTTP %d: %s", p.topic, status, answer)
	}
	return nil
}
