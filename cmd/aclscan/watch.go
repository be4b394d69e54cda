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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/fix"
	"github.com/aclscan/aclscan/internal/settings"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/scan"
	"github.com/aclscan/aclscan/watch"
	"github.com/spf13/cobra"
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
}

func newWatchCommand(sh *shell) *cobra.Command {
	f := watchFlags{scanFlags: scanFlags{set: settings.Defaults(), ckptEvery: scan.DefaultCheckpointInterval}, listen: "127.0.0.1:8799"}
	cmd := &cobra.Command{
		Use:   "watch --listen HOST:PORT",
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
	fl.StringVar(&f.listen, "listen", f.listen, "the address to receive S3 event notifications on (HTTP POST)")
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
	listener, err := net.Listen("tcp", f.listen)
	if err != nil {
		return usageErrorf("--listen %s: %v", f.listen, errors.Unwrap(err))
	}
	client, err := sh.newClient(ctx, s3opts)
	if err != nil {
		listener.Close()
		return err
	}
	out, err := openOutput(f.output, sh.stdout, -1)
	if err != nil {
		listener.Close()
		return err
	}
	defer out.Close()
	writer, err := report.New(report.Format(f.format), out.w, report.Options{Spell: flagSpelling, Version: buildVersion()})
	if err != nil {
		listener.Close()
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
	// One writer: deliveries are judged at once, their records written
	// one delivery at a time, flushed before the delivery is answered.
	var mu sync.Mutex
	sum := &scan.Summary{Complete: true, Source: "watch"}
	unchanged, ignored := 0, 0
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(rw, "POST S3 event notifications here", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxDelivery))
		if err != nil {
			http.Error(rw, "unreadable or too large: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		events, err := watch.Decode(body)
		if err != nil {
			fmt.Fprintf(sh.stderr, "aclscan: a delivery from %s refused: %v\n", r.RemoteAddr, err)
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		var records []scan.Result
		outcome, err := w.Judge(r.Context(), events, scan.SinkFunc(func(res *scan.Result) error {
			copied := *res
			copied.Grants = slices.Clone(res.Grants) // res is not kept past Write
			records = append(records, copied)
			return nil
		}))
		mu.Lock()
		unchanged += outcome.Unchanged
		ignored += outcome.Ignored
		for i := range records {
			if werr := writer.Write(&records[i]); werr != nil && err == nil {
				err = werr
			}
			sum.Add(&records[i])
		}
		if ferr := writer.Flush(); ferr != nil && err == nil {
			err = ferr
		}
		mu.Unlock()
		if outcome.Remediated+outcome.RemediationFailed > 0 {
			fmt.Fprintf(sh.stderr, "aclscan: remediation: %d ACLs closed, %d not (changed meanwhile, or failed); undo logs in %s\n", outcome.Remediated, outcome.RemediationFailed, f.undoDir)
		}
		if err != nil {
			fmt.Fprintf(sh.stderr, "aclscan: a delivery of %d events is not judged whole (%d written): %v; answered 503 so that it is sent again\n", len(events), len(records), err)
			http.Error(rw, "not judged whole; send it again", http.StatusServiceUnavailable)
			return
		}
		rw.WriteHeader(http.StatusOK)
	})}
	fmt.Fprintf(sh.stderr, "aclscan: watching: POST S3 event notifications to http://%s/ (radosgw push endpoint, MinIO webhook)\n", listener.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(listener) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		// Finish the deliveries in flight; then every record is flushed.
		shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = srv.Shutdown(shutdown)
		cancel()
	}
	mu.Lock()
	defer mu.Unlock()
	if cerr := writer.Close(sum); cerr != nil && err == nil {
		err = cerr
	}
	fmt.Fprintf(sh.stderr, "aclscan: watch ended: %d records written, %d events for objects unchanged since their last record, %d events ignored (removals, other buckets)\n", sum.Objects, unchanged, ignored)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return &exitError{code: exitIncomplete, msg: "watch: " + err.Error()}
	}
	return nil
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
	var kinds []acl.Kind
	for _, name := range strings.Split(f.remediate, ",") {
		k, ok := acl.ParseKind(strings.TrimSpace(name))
		if !ok {
			return nil, usageErrorf("--remediate: unknown finding kind %q (public, authenticated or cross-account)", name)
		}
		kinds = append(kinds, k)
	}
	mode, err := fix.ParseMode(kinds, "")
	if err != nil {
		return nil, usageErrorf("--remediate: %v", err)
	}
	var n atomic.Int64
	return &watch.Remediation{Mode: mode, Journal: func() (*fix.Journal, error) {
		name := fmt.Sprintf("undo-%s-%d.jsonl", time.Now().UTC().Format("20060102T150405"), n.Add(1))
		return fix.OpenJournal(filepath.Join(f.undoDir, name))
	}}, nil
}
