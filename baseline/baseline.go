// Package baseline compares a run's findings with an earlier report's:
// a finding the baseline already had is known, one it did not is new, and
// an object whose findings are gone since is closed. With --fail-on-new a
// CI job fails on what changed, not on everything found since the
// beginning.
package baseline

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/report"
)

// Baseline is an earlier report's findings, by object. Safe for use by
// many goroutines.
type Baseline struct {
	// Name says where it came from (a path or an s3:// URL).
	Name string

	mu    sync.Mutex
	known map[objectID]entry
}

type objectID struct{ bucket, key, version string }

type entry struct {
	findings acl.Findings
	seen     bool
}

// ReadJSONL loads a JSON-lines report. Only records with findings are
// kept: a baseline of a billion clean objects costs nothing.
func ReadJSONL(name string, r io.Reader) (*Baseline, error) {
	return read(name, func(fn func(report.Record) error) error { return report.ReadJSONL(r, fn) })
}

// ReadParquet loads a Parquet report.
func ReadParquet(name string, r io.ReaderAt, size int64) (*Baseline, error) {
	return read(name, func(fn func(report.Record) error) error { return report.ReadParquet(r, size, fn) })
}

// Open loads a report file, JSON lines or Parquet.
func Open(name string) (*Baseline, error) {
	return read(name, func(fn func(report.Record) error) error { return report.ReadFile(name, fn) })
}

func read(name string, records func(func(report.Record) error) error) (*Baseline, error) {
	b := &Baseline{Name: name, known: map[objectID]entry{}}
	if err := records(b.add); err != nil {
		return nil, fmt.Errorf("baseline %s: %w", name, err)
	}
	return b, nil
}

func (b *Baseline) add(rec report.Record) error {
	if len(rec.Findings) == 0 {
		return nil
	}
	var f acl.Findings
	for _, name := range rec.Findings {
		k, ok := acl.ParseKind(name)
		if !ok {
			return fmt.Errorf("record of %q: unknown finding %q", rec.Key, name)
		}
		f = f.With(k)
	}
	id := objectID{bucket: rec.Bucket, key: rec.Key}
	if rec.VersionID != nil {
		id.version = *rec.VersionID
	}
	e := b.known[id]
	e.findings |= f
	b.known[id] = e
	return nil
}

// Len is the number of objects with findings in the baseline.
func (b *Baseline) Len() int { return len(b.known) }

// Compare returns the findings of an object that the baseline did not
// have (new), and marks the object seen.
func (b *Baseline) Compare(bucket, key, version string, findings acl.Findings) (fresh acl.Findings) {
	id := objectID{bucket, key, version}
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.known[id]
	if !ok {
		return findings
	}
	e.seen = true
	b.known[id] = e
	return findings &^ e.findings
}

// Closed is an object of the baseline whose findings are gone: fixed,
// deleted, or no longer exposed.
type Closed struct {
	Bucket, Key, VersionID string
	// Findings are the ones the baseline had.
	Findings []string
}

// Closed lists, in key order, the baseline's objects inside the run's
// scope that this run did not see with a finding. inScope says whether
// the run covered an object (its bucket and prefix).
func (b *Baseline) Closed(inScope func(bucket, key string) bool) []Closed {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Closed
	for id, e := range b.known {
		if e.seen || !inScope(id.bucket, id.key) {
			continue
		}
		out = append(out, Closed{Bucket: id.bucket, Key: id.key, VersionID: id.version, Findings: e.findings.Names()})
	}
	sort.Slice(out, func(i, j int) bool {
		a, c := out[i], out[j]
		return strings.Compare(a.Bucket+"\x00"+a.Key+"\x00"+a.VersionID, c.Bucket+"\x00"+c.Key+"\x00"+c.VersionID) < 0
	})
	return out
}
