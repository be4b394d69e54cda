package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aclscan/aclscan/fix"
	"github.com/aclscan/aclscan/internal/settings"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/scan"
	"github.com/aclscan/aclscan/watch"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
)

// watchFlags are the watch command's flags.
type watchFlags struct {
	scanFlags
	listen  string
	buckets []string
	// remediate are the kinds to close as soon as found; undoDir holds
	// one undo log per delivery that changed something.
	remediate string
	undoDir   string
	// sqsURL is the queue to consume (AWS's S3 notifications or
	// EventBridge events, through SQS).
	sqsURL string
}

func newWatchCommand(sh *shell) *cobra.Command {
	f := watchFlags{scanFlags: scanFlags{set: settings.Defaults(), ckptEvery: scan.DefaultCheckpointInterval}}
	cmd := &cobra.Command{
		Use:   "watch --listen HOST:PORT | --sqs-url URL",
		Short: "Judge every object the moment S3 says it was created or its ACL changed",
		Long: `aclscan watch receives the S3 event notifications that S3-compatible servers push over HTTP (radosgw's
push endpoint, MinIO's webhook; the AWS S3 event record shape) and judges each announced object as it is now:
its ACL is read again (an event comes late, twice, or out of order, and never carries the ACL), judged with its
bucket's context (cached for a while), and written as a record with the event that caused it. A repeated event
for an object whose judgement did not change writes nothing. A delivery is answered 200 once its records are
written; 503 when S3 could not be read (the server sends it again): delivery is at least once, and a record can
repeat when a delivery is sent again, never be lost once answered. Ctrl-C or SIGTERM finishes the deliveries in
flight and flushes every record.`,
		Example: `  aclscan watch --listen 127.0.0.1:8799 -o watch.jsonl
  aclscan watch --listen 0.0.0.0:8799 --bucket 'uploads-*' --format ocsf`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 {
				return usageErrorf("watch takes no argument: the buckets are the events'; narrow them with --bucket GLOB")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return sh.runWatch(cmd.Context(), &f)
		},
	}
	fl := cmd.Flags()
	addConnectionFlags(fl, &f.scanFlags)
	fl.StringVar(&f.listen, "listen", "", "the address to receive pushed S3 event notifications on (HTTP POST), e.g. 127.0.0.1:8799")
	fl.StringVar(&f.sqsURL, "sqs-url", "", "the SQS queue to consume: S3 event notifications or EventBridge S3 events (also inside SNS)")
	fl.StringSliceVar(&f.buckets, "bucket", nil, "judge only events of these buckets (names or globs; default: every bucket the events name)")
	fl.StringVar(&f.format, "format", "jsonl", "output format: jsonl, ocsf or table (the table is written when the watch ends)")
	fl.StringVarP(&f.output, "output", "o", "", "write the records to FILE (created owner-only) instead of stdout")
	fl.StringVar(&f.acceptFile, "accept", "", "accepted exposures (docs/accepted.md); default: .aclscan.yaml in the working directory, when there is one")
	fl.BoolVar(&f.noAccept, "no-accept", false, "ignore .aclscan.yaml")
	fl.StringSliceVar(&f.trusted, "trusted-accounts", nil, "the zone of trust (docs/accepted.md)")
	fl.StringVar(&f.set.BucketOwner, "bucket-owner", "", "bucket owner's canonical ID, used when GetBucketAcl is denied")
	fl.StringVar(&f.remediate, "remediate", "", "close these findings as soon as found, through the fix path (comma list of public, authenticated, cross-account): the grants go, the owners' FULL_CONTROL stays, accepted exposures are left alone")
	fl.StringVar(&f.undoDir, "undo-dir", "", "with --remediate: the directory of the undo logs (one per delivery that changed an ACL; aclscan undo LOG restores)")
	return cmd
}

// maxDelivery bounds a notification's body: S3 sends one record per
// event, a few kilobytes.
const maxDelivery = 4 << 20

func (sh *shell) runWatch(ctx context.Context, f *watchFlags) error {
	switch report.Format(f.format) {
	case report.FormatJSONL, report.FormatOCSF, report.FormatTable:
	default:
		return usageErrorf("--format %s: watch writes jsonl, ocsf or table", f.format)
	}
	for _, b := range f.buckets {
		if _, err := path.Match(b, ""); err != nil {
			return usageErrorf("--bucket %q is not a name or glob: %v", b, err)
		}
	}
	cfg, s3opts, _, err := f.configEach()
	if err != nil {
		return err
	}
	remediation, err := f.remediation()
	if err != nil {
		return err
	}
	if f.listen == "" && f.sqsURL == "" {
		return usageErrorf("watch needs --listen HOST:PORT (pushed notifications) or --sqs-url URL (a queue), or both")
	}
	var listener net.Listener
	if f.listen != "" {
		if listener, err = net.Listen("tcp", f.listen); err != nil {
			return usageErrorf("--listen %s: %v", f.listen, errors.Unwrap(err))
		}
	}
	closeListener := func() {
		if listener != nil {
			listener.Close()
		}
	}
	client, err := sh.newClient(ctx, s3opts)
	if err != nil {
		closeListener()
		return err
	}
	out, err := openOutput(f.output, sh.stdout, -1)
	if err != nil {
		closeListener()
		return err
	}
	defer out.Close()
	writer, err := report.New(report.Format(f.format), out.w, report.Options{Spell: flagSpelling, Version: buildVersion()})
	if err != nil {
		closeListener()
		return usageErrorf("--format: %v", err)
	}
	w := &watch.Watcher{API: client, Accept: cfg.Accept, Trusted: cfg.Trusted, Remediate: remediation}
	if remediation != nil {
		remediation.API = client
	}
	if len(f.buckets) > 0 {
		w.Allowed = func(bucket string) bool {
			for _, pattern := range f.buckets {
				if ok, _ := path.Match(pattern, bucket); ok {
					return true
				}
			}
			return false
		}
	}
	sh.announceAccepted(cfg.Accept)
	run := &watchRun{sh: sh, w: w, writer: writer, undoDir: f.undoDir, sum: &scan.Summary{Complete: true, Source: "watch"}}
	var servers errgroup.Group
	var srv *http.Server
	if listener != nil {
		srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(run.serveHTTP)}
		fmt.Fprintf(sh.stderr, "aclscan: watching: POST S3 event notifications to http://%s/ (radosgw push endpoint, MinIO webhook)\n", listener.Addr())
		servers.Go(func() error {
			if err := srv.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	if f.sqsURL != "" {
		queue := sqs.NewFromConfig(client.AWSConfig())
		fmt.Fprintf(sh.stderr, "aclscan: watching: consuming %s\n", f.sqsURL)
		servers.Go(func() error { return run.consumeSQS(ctx, queue, f.sqsURL) })
	}
	<-ctx.Done()
	if srv != nil {
		// Finish the deliveries in flight; then every record is flushed.
		shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = srv.Shutdown(shutdown)
		cancel()
	}
	err = servers.Wait()
	run.mu.Lock()
	defer run.mu.Unlock()
	if cerr := writer.Close(run.sum); cerr != nil && err == nil {
		err = cerr
	}
	fmt.Fprintf(sh.stderr, "aclscan: watch ended: %d records written, %d events for objects unchanged since their last record, %d events ignored (removals, other buckets)\n",
		run.sum.Objects, run.unchanged, run.ignored)
	if err != nil {
		return &exitError{code: exitIncomplete, msg: "watch: " + err.Error()}
	}
	return nil
}

// watchRun is one watch: its watcher and the one writer its deliveries
// share (records written one delivery at a time, flushed before the
// delivery is acknowledged).
type watchRun struct {
	sh      *shell
	w       *watch.Watcher
	writer  report.Writer
	undoDir string

	mu                 sync.Mutex
	sum                *scan.Summary
	unchanged, ignored int
}

// deliver judges one delivery's events and writes their records, flushed.
// An error means the delivery should come again. A delivery being judged
// when the watch is asked to stop is finished first.
func (r *watchRun) deliver(ctx context.Context, events []watch.Event) error {
	var records []scan.Result
	outcome, err := r.w.Judge(context.WithoutCancel(ctx), events, scan.SinkFunc(func(res *scan.Result) error {
		copied := *res
		copied.Grants = slices.Clone(res.Grants) // res is not kept past Write
		records = append(records, copied)
		return nil
	}))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unchanged += outcome.Unchanged
	r.ignored += outcome.Ignored
	for i := range records {
		if werr := r.writer.Write(&records[i]); werr != nil && err == nil {
			err = werr
		}
		r.sum.Add(&records[i])
	}
	if ferr := r.writer.Flush(); ferr != nil && err == nil {
		err = ferr
	}
	if outcome.Remediated+outcome.RemediationFailed > 0 {
		fmt.Fprintf(r.sh.stderr, "aclscan: remediation: %d ACLs closed, %d not (changed meanwhile, or failed); undo logs in %s\n", outcome.Remediated, outcome.RemediationFailed, r.undoDir)
	}
	if err != nil {
		fmt.Fprintf(r.sh.stderr, "aclscan: a delivery of %d events is not judged whole (%d written): %v; it will be delivered again\n", len(events), len(records), err)
	}
	return err
}

// serveHTTP takes a pushed delivery: 200 once its records are written,
// 503 to have it sent again, 400 for what is not events.
func (r *watchRun) serveHTTP(rw http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(rw, "POST S3 event notifications here", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, req.Body, maxDelivery))
	if err != nil {
		http.Error(rw, "unreadable or too large: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	events, err := watch.Decode(body)
	if err != nil {
		if len(events) == 0 {
			fmt.Fprintf(r.sh.stderr, "aclscan: a delivery from %s refused: %v\n", req.RemoteAddr, err)
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		// The others are judged; these would not read better sent again.
		fmt.Fprintf(r.sh.stderr, "aclscan: a delivery from %s: %v\n", req.RemoteAddr, err)
	}
	if err := r.deliver(req.Context(), events); err != nil {
		http.Error(rw, "not judged whole; send it again", http.StatusServiceUnavailable)
		return
	}
	rw.WriteHeader(http.StatusOK)
}

// sqsAPI is what the consumer needs of an SQS client.
type sqsAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// consumeSQS receives messages (long polls of up to 10) until ctx ends. A
// message judged whole, or one that holds no S3 event (S3's test event),
// is deleted; one that failed is left, and SQS delivers it again after
// its visibility timeout (then to its dead-letter queue, if it has one).
func (r *watchRun) consumeSQS(ctx context.Context, queue sqsAPI, url string) error {
	for ctx.Err() == nil {
		out, err := queue.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 20})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			fmt.Fprintf(r.sh.stderr, "aclscan: receive from %s: %v; trying again in 5 s\n", url, err)
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
			}
			continue
		}
		for _, m := range out.Messages {
			if change, ok := watch.DecodeSettingChange([]byte(aws.ToString(m.Body))); ok {
				r.settingChanged(change)
				r.deleteMessage(ctx, queue, url, m)
				continue
			}
			events, err := watch.DecodeMessage([]byte(aws.ToString(m.Body)))
			if errors.Is(err, watch.ErrBadRecords) {
				fmt.Fprintf(r.sh.stderr, "aclscan: message %s: %v\n", aws.ToString(m.MessageId), err)
				err = nil // the others are judged
			}
			switch {
			case errors.Is(err, watch.ErrNotEvents):
				r.mu.Lock()
				r.ignored++
				r.mu.Unlock()
			case err != nil:
				fmt.Fprintf(r.sh.stderr, "aclscan: message %s refused: %v; left to the queue's redrive\n", aws.ToString(m.MessageId), err)
				continue
			case r.deliver(ctx, events) != nil:
				continue
			}
			r.deleteMessage(ctx, queue, url, m)
		}
	}
	return nil
}

// deleteMessage acknowledges a message handled whole.
func (r *watchRun) deleteMessage(ctx context.Context, queue sqsAPI, url string, m types.Message) {
	if _, err := queue.DeleteMessage(context.WithoutCancel(ctx), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
		fmt.Fprintf(r.sh.stderr, "aclscan: delete message %s: %v (it will come again)\n", aws.ToString(m.MessageId), err)
	}
}

// settingChanged handles CloudTrail's record of a settings change in the
// queue: the bucket's cached context is dropped, and since the change can
// open objects no object event announces, the line says to scan it (the
// Lambda deployment starts that scan itself).
func (r *watchRun) settingChanged(c watch.SettingChange) {
	if !r.w.SettingChanged(c) {
		r.mu.Lock()
		r.ignored++
		r.mu.Unlock()
		return
	}
	if c.Bucket == "" {
		fmt.Fprintf(r.sh.stderr, "aclscan: %q (account level): every bucket's settings are read again; objects no event announced may be exposed now: scan them (aclscan scan --all-buckets)\n", c.EventName)
		return
	}
	// %q: the names come from the message, not from S3 (no terminal escapes).
	fmt.Fprintf(r.sh.stderr, "aclscan: %q on bucket %q: its settings are read again; objects no event announced may be exposed now: scan it (aclscan scan s3://BUCKET)\n", c.EventName, c.Bucket)
}

// remediation is what --remediate and --undo-dir ask (nil without them).
func (f *watchFlags) remediation() (*watch.Remediation, error) {
	switch {
	case f.remediate == "" && f.undoDir != "":
		return nil, usageErrorf("--undo-dir holds the undo logs of --remediate: give --remediate KINDS too")
	case f.remediate == "":
		return nil, nil
	case f.undoDir == "":
		return nil, usageErrorf("--remediate needs --undo-dir DIR: every ACL is saved there before it is changed")
	}
	if info, err := os.Stat(f.undoDir); err != nil || !info.IsDir() {
		return nil, usageErrorf("--undo-dir %s is not a directory", f.undoDir)
	}
	mode, err := fix.ParseKindList(f.remediate)
	if err != nil {
		return nil, usageErrorf("--remediate: %v", err)
	}
	var n atomic.Int64
	return &watch.Remediation{Mode: mode, Journal: func() (*fix.Journal, error) {
		name := fmt.Sprintf("undo-%s-%d.jsonl", time.Now().UTC().Format("20060102T150405"), n.Add(1))
		return fix.OpenJournal(filepath.Join(f.undoDir, name))
	}}, nil
}
