package locals3

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Push is a bucket's notifications pushed over HTTP.
type Push struct {
	Bucket string
	// Endpoint is where radosgw POSTs the records (http://HOST:PORT/).
	Endpoint string
	// Persistent queues the records in radosgw and retries them until the
	// endpoint takes them (persistent=true); otherwise radosgw pushes
	// within the upload, once, and drops what the endpoint did not take.
	Persistent bool
}

// PushTo makes radosgw push the S3 event records of every object created
// in p.Bucket to p.Endpoint: a topic with that push endpoint, created
// with the SNS-style call radosgw serves on its S3 endpoint (service sns,
// region us-east-1), and the bucket's notification configuration naming
// it for s3:ObjectCreated:*. test-stack.md has the details; radosgw sends
// no event for an ACL change.
func PushTo(ctx context.Context, env Env, p Push) error {
	bucket := p.Bucket
	form := url.Values{"Action": {"CreateTopic"}, "Name": {"aclscan-" + bucket},
		"Attributes.entry.1.key": {"push-endpoint"}, "Attributes.entry.1.value": {p.Endpoint}}
	if p.Persistent {
		form.Set("Attributes.entry.2.key", "persistent")
		form.Set("Attributes.entry.2.value", "true")
	}
	body := form.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, env.HTTPURL+"/", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	creds, err := env.A.Credentials().Retrieve(ctx)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "sns", "us-east-1", time.Now()); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("create the topic: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	arn := regexp.MustCompile(`<TopicArn>([^<]+)</TopicArn>`).FindSubmatch(answer)
	if resp.StatusCode != http.StatusOK || arn == nil {
		return fmt.Errorf("create the topic: HTTP %d: %s", resp.StatusCode, answer)
	}
	topic, id := string(arn[1]), "aclscan-watch"
	_, err = env.Client(env.A).PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: &bucket,
		NotificationConfiguration: &types.NotificationConfiguration{TopicConfigurations: []types.TopicConfiguration{{
			Id: &id, TopicArn: &topic, Events: []types.Event{types.EventS3ObjectCreated}}}}})
	if err != nil {
		return fmt.Errorf("the notification configuration of %s: %w", bucket, err)
	}
	return nil
}
