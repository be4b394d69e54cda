package watch

import "encoding/json"

// ObjectDetailTypes are the detail-types of the EventBridge S3 events a
// watch judges (S3 User Guide, "EventBridge event message structure"):
// what a deployment's rule must match.
var ObjectDetailTypes = []string{"Object Created", "Object ACL Updated"}

// SettingEvents are the CloudTrail management events of S3 settings that
// decide what objects' ACLs and the bucket's policy grant: each can open
// objects that no object event announces (a policy put, a Deny deleted,
// Block Public Access turned off, ACLs enabled again). CloudTrail names
// a bucket's Block Public Access calls PutBucketPublicAccessBlock and
// DeleteBucketPublicAccessBlock, not by their API names
// (PutPublicAccessBlock, DeletePublicAccessBlock): the S3 User Guide,
// "Amazon S3 CloudTrail events", says the event name can differ from the
// action's. Both are listed, so that a rule matching either matches.
var SettingEvents = []string{
	"PutBucketAcl", "PutBucketPolicy", "DeleteBucketPolicy",
	"PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock",
	"PutPublicAccessBlock", "DeletePublicAccessBlock",
	"PutBucketOwnershipControls", "DeleteBucketOwnershipControls",
	"PutAccountPublicAccessBlock", "DeleteAccountPublicAccessBlock",
}

// CloudTrailDetailType is the detail-type EventBridge gives CloudTrail's
// records of API calls.
const CloudTrailDetailType = "AWS API Call via CloudTrail"

// SettingChange is CloudTrail's record of an S3 API call, as EventBridge
// delivers it ("AWS API Call via CloudTrail").
type SettingChange struct {
	EventSource, EventName string
	// Bucket is empty for an account-level call.
	Bucket string
	// ErrorCode is set when the call failed: nothing changed.
	ErrorCode string
}

// DecidesAccess reports whether the call changed a setting that decides
// access: a successful call of SettingEvents on S3.
func (c *SettingChange) DecidesAccess() bool {
	if c.EventSource != "s3.amazonaws.com" || c.ErrorCode != "" {
		return false
	}
	for _, name := range SettingEvents {
		if name == c.EventName {
			return true
		}
	}
	return false
}

// DecodeSettingChange reads a CloudTrail API call delivered by
// EventBridge; ok is false for any other body (an object event).
func DecodeSettingChange(body []byte) (change SettingChange, ok bool) {
	var ev struct {
		Source     string `json:"source"`
		DetailType string `json:"detail-type"`
		Detail     struct {
			EventSource       string `json:"eventSource"`
			EventName         string `json:"eventName"`
			ErrorCode         string `json:"errorCode"`
			RequestParameters struct {
				BucketName string `json:"bucketName"`
			} `json:"requestParameters"`
		} `json:"detail"`
	}
	if json.Unmarshal(body, &ev) != nil || ev.Source != "aws.s3" || ev.DetailType != CloudTrailDetailType {
		return SettingChange{}, false
	}
	d := ev.Detail
	return SettingChange{EventSource: d.EventSource, EventName: d.EventName, Bucket: d.RequestParameters.BucketName, ErrorCode: d.ErrorCode}, true
}
