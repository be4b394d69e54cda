package fix

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/aclscan/aclscan/acl"
)

// Outcomes of one entry.
const (
	Changed = "changed"
	Skipped = "skipped"
	Failed  = "failed"
	// Restored, AlreadyRestored: what undo did.
	Restored        = "restored"
	AlreadyRestored = "already-restored"
)

// Record is one line of the journal (the undo log): "before" holds an
// ACL as it was, written and synced before the change; "done" the
// outcome of an entry.
type Record struct {
	Op        string `json:"op"`
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	VersionID string `json:"version_id,omitempty"`
	Owner     string `json:"owner_id,omitempty"`
	// BucketOwner is the bucket owner's canonical ID when the ACL was
	// saved: an owner's FULL_CONTROL is the one grant a fix may add.
	BucketOwner string      `json:"bucket_owner,omitempty"`
	Grants      []acl.Grant `json:"grants,omitempty"`
	// After is the ACL the change writes (on "before").
	After   []acl.Grant `json:"after,omitempty"`
	Outcome string      `json:"outcome,omitempty"`
	Reason  string      `json:"reason,omitempty"`
	// Line is the record's line in the journal (for messages).
	Line int `json:"-"`
}

func (r *Record) id() string { return r.Bucket + "\x00" + r.Key + "\x00" + r.VersionID }

// RecordID names the ACL a record is about, as Entry.ID does.
func RecordID(r *Record) string { return r.id() }

// Journal is the undo log: append-only JSON lines. Before records are
// synced before Before returns (several workers' records share one sync);
// outcomes are synced with the next before record, or at Close.
type Journal struct {
	path string
	f    *os.File

	mu      sync.Mutex
	cond    *sync.Cond
	buf     bytes.Buffer
	written int64 // records handed to buf
	synced  int64 // records known durable
	syncing bool
	err     error

	// Read when the journal was opened: what an earlier run did.
	before map[string]*Record
	done   map[string]*Record
}

// errLocked: another run holds the undo log.
var errLocked = errors.New("another aclscan run is using it (one run per undo log at a time)")

// OpenJournal opens (or creates) the undo log at path, locks it for this
// run alone, and reads what it holds. Records are only ever appended
// (O_APPEND). A last line cut short by a crash is dropped: it was never
// synced, so the change it would have preceded was not made.
func OpenJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	j := &Journal{path: path, f: f, before: map[string]*Record{}, done: map[string]*Record{}}
	j.cond = sync.NewCond(&j.mu)
	good, err := j.read()
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// read loads the journal's records and returns the length of its whole lines.
func (j *Journal) read() (int64, error) {
	r := bufio.NewReader(j.f)
	var good int64
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			return good, nil // a partial last line is dropped
		}
		if err != nil {
			return good, err
		}
		rec := Record{Line: n}
		if err := json.Unmarshal(line, &rec); err != nil {
			return good, fmt.Errorf("%s line %d is not an aclscan undo log record: %v", j.path, n, err)
		}
		switch rec.Op {
		case "before":
			j.before[rec.id()] = &rec
		case "done":
			j.done[rec.id()] = &rec
		default:
			return good, fmt.Errorf("%s line %d: unknown op %q", j.path, n, rec.Op)
		}
		good += int64(len(line))
	}
}

// Earlier returns what an earlier run logged for an entry: the ACL
// before its change, and its outcome (nil when none).
func (j *Journal) Earlier(id string) (before, done *Record) {
	return j.before[id], j.done[id]
}

// Befores returns every before record the journal held when opened (the
// last one of each ACL), in the order they were written.
func (j *Journal) Befores() []*Record {
	out := make([]*Record, 0, len(j.before))
	for _, r := range j.before {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *Record) int { return a.Line - b.Line })
	return out
}

// Path is where the journal is.
func (j *Journal) Path() string { return j.path }

// Before appends an ACL as it is before its change and returns once it
// is durable.
func (j *Journal) Before(e *Entry, owner string, grants []acl.Grant) error {
	return j.append(&Record{Op: "before", Bucket: e.Bucket, Key: e.Key, VersionID: e.VersionID, Owner: owner, BucketOwner: e.BucketOwner,
		Grants: grants, After: e.After}, true)
}

// Done appends an entry's outcome (durable at the next sync).
func (j *Journal) Done(e *Entry, outcome, reason string) error {
	return j.append(&Record{Op: "done", Bucket: e.Bucket, Key: e.Key, VersionID: e.VersionID, Outcome: outcome, Reason: reason}, false)
}

func (j *Journal) append(rec *Record, wait bool) error {
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	j.buf.Write(line)
	j.buf.WriteByte('\n')
	j.written++
	mine := j.written
	for wait && j.synced < mine && j.err == nil {
		if j.syncing {
			j.cond.Wait() // another worker's sync may cover this record
			continue
		}
		// Group commit: this worker writes and syncs everything buffered.
		j.syncing = true
		data, upTo := bytes.Clone(j.buf.Bytes()), j.written
		j.buf.Reset()
		j.mu.Unlock()
		_, err := j.f.Write(data)
		if err == nil {
			err = j.f.Sync()
		}
		j.mu.Lock()
		j.syncing = false
		if err != nil {
			j.err = fmt.Errorf("write the undo log %s: %w", j.path, err)
		} else {
			j.synced = upTo
		}
		j.cond.Broadcast()
	}
	return j.err
}

// Close writes and syncs what is buffered, and closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	for j.syncing {
		j.cond.Wait()
	}
	data := j.buf.Bytes()
	j.mu.Unlock()
	var errs []error
	if len(data) > 0 {
		if _, err := j.f.Write(data); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, j.f.Sync(), j.f.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close the undo log %s: %w", j.path, err)
	}
	return j.err
}
