package s3access

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
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

// NewUpload starts an upload to s3://bucket/key.
func (c *Client) NewUpload(ctx context.Context, bucket, key string) *Upload {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	u := &Upload{pw: pw, cancel: cancel, done: make(chan error, 1), where: "s3://" + bucket + "/" + key}
	tm := transfermanager.New(c.Client, func(o *transfermanager.Options) { o.Concurrency = 2 })
	go func() {
		_, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: &bucket, Key: &key, Body: pr})
		pr.CloseWithError(err) // a writer blocked on a failed upload returns
		u.done <- err
	}()
	return u
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
