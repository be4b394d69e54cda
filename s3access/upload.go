package s3access

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Upload streams what is written to it to an S3 object (a multipart
// upload of 8 MiB parts, or one PUT when it stays small), in memory that
// does not grow with what is written: the object appears only at Close;
// Abort, or a failed upload, leaves nothing behind (the multipart upload
// is aborted).
type Upload struct {
	pw     *io.PipeWriter
	cancel context.CancelFunc
	done   chan error
	where  string
}

// UploadRequest names what an upload writes.
type UploadRequest struct {
	Bucket, Key string
	// Overwrite replaces an object already there; without it the upload
	// is conditional (If-None-Match: *) and fails if one appeared.
	Overwrite bool
}

// NewUpload starts an upload to s3://bucket/key. On AWS it is sent with
// ExpectedBucketOwner (the caller's account): a report never lands in a
// bucket another account took over under the same name.
func (c *Client) NewUpload(ctx context.Context, req UploadRequest) *Upload {
	bucket, key := req.Bucket, req.Key
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	u := &Upload{pw: pw, cancel: cancel, done: make(chan error, 1), where: "s3://" + bucket + "/" + key}
	tm := transfermanager.New(c.sdk, func(o *transfermanager.Options) { o.Concurrency = 2 })
	in := &transfermanager.UploadObjectInput{Bucket: &bucket, Key: &key, Body: pr}
	if owner := c.ExpectedBucketOwner(ctx); owner != "" {
		in.ExpectedBucketOwner = &owner
	}
	if !req.Overwrite && c.onAWS() {
		// radosgw 16 does not implement conditional writes; there the
		// caller's HeadObject check before the scan is what guards.
		in.IfNoneMatch = aws.String("*")
	}
	go func() {
		_, err := tm.UploadObject(ctx, in)
		pr.CloseWithError(err) // a writer blocked on a failed upload returns
		u.done <- err
	}()
	return u
}

// ExpectedBucketOwner is the account ID to send as ExpectedBucketOwner on
// AWS (the caller's), "" elsewhere or when it cannot be learnt.
func (c *Client) ExpectedBucketOwner(ctx context.Context) string {
	if !c.onAWS() {
		return ""
	}
	_, account, _ := c.control(ctx)
	return account
}

// Exists reports whether s3://bucket/key is there (HeadObject).
func (c *Client) Exists(ctx context.Context, bucket, key string) (bool, error) {
	in := &s3.HeadObjectInput{Bucket: &bucket, Key: &key}
	if owner := c.ExpectedBucketOwner(ctx); owner != "" {
		in.ExpectedBucketOwner = &owner
	}
	_, err := c.sdk.HeadObject(ctx, in)
	switch {
	case err == nil:
		return true, nil
	case IsNotFound(err), HTTPStatus(err) == 404 && ErrorCode(err) == "NotFound":
		return false, nil // HEAD answers have no body: a bare 404 is the answer
	}
	return false, err
}

// Write hands p to the upload.
func (u *Upload) Write(p []byte) (int, error) {
	n, err := u.pw.Write(p)
	if err != nil {
		return n, fmt.Errorf("upload to %s: %w", u.where, err)
	}
	return n, nil
}

// Close ends the body and waits for the object to be complete.
func (u *Upload) Close() error {
	u.pw.Close()
	err := <-u.done
	u.cancel()
	if err != nil {
		return fmt.Errorf("upload to %s: %w", u.where, err)
	}
	return nil
}

// Abort gives up the upload: no object appears, and the parts sent are
// deleted.
func (u *Upload) Abort(reason error) error {
	if reason == nil {
		reason = errors.New("aborted")
	}
	u.pw.CloseWithError(reason)
	u.cancel()
	<-u.done
	return nil
}
