package inventory

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/inventory/aclfield"
	"github.com/aclscan/aclscan/scan"
	"golang.org/x/sync/errgroup"
)

// Opener opens a data file of the report by its key (in the destination
// bucket, or a local copy).
type Opener func(ctx context.Context, key string) (io.ReadCloser, error)

// Source is a report's rows as a scan.Source: each row one object with
// its ACL (status UNAVAILABLE: an unavailable object; a delete marker:
// counted). Data files are read in parallel, each checked against its
// MD5; a file that fails to read or check stops the run with its name.
// It is a scan.ResumableSource: a checkpoint knows, per data file, which
// rows were reported, so a resumed run reports every row exactly once.
type Source struct {
	manifest  *Manifest
	cols      Columns
	open      Opener
	parallel  int
	tempDir   string
	stdlibCSV bool

	mu    sync.Mutex
	files map[string]*fileTrack
}

// Options configure a Source.
type Options struct {
	// Parallel is how many data files are read at once (0 = 2).
	Parallel int
	// TempDir holds Parquet files while they are read (they need random
	// access); "" is the system's.
	TempDir string
	// Resume is a Position a checkpoint saved (nil: from the start).
	Resume json.RawMessage
	// StdlibCSV reads CSV with encoding/csv instead of aclscan's reader
	// (to measure them side by side; docs/benchmarks/inventory.md).
	StdlibCSV bool
}

// NewSource reads the report m lists; cols must come from m.Columns.
func NewSource(m *Manifest, cols Columns, open Opener, opts Options) (*Source, error) {
	s := &Source{manifest: m, cols: cols, open: open, parallel: opts.Parallel, tempDir: opts.TempDir, stdlibCSV: opts.StdlibCSV, files: map[string]*fileTrack{}}
	if s.parallel <= 0 {
		s.parallel = 2
	}
	if opts.Resume != nil {
		var pos position
		if err := json.Unmarshal(opts.Resume, &pos); err != nil {
			return nil, fmt.Errorf("the checkpoint's inventory position is unreadable: %v", err)
		}
		for _, f := range pos.Files {
			t := &fileTrack{key: f.Key, through: f.Through, complete: f.Complete, done: map[int64]struct{}{},
				earlierThrough: f.Through, earlierDone: map[int64]struct{}{}}
			for _, d := range f.Done {
				t.done[d] = struct{}{}
				t.earlierDone[d] = struct{}{}
			}
			s.files[f.Key] = t
		}
	}
	return s, nil
}

// Versioned reports whether the report lists versions (IncludedObjectVersions=All).
func (s *Source) Versioned() bool { return s.cols.VersionID >= 0 }

// Objects emits every row of every data file, from several goroutines.
func (s *Source) Objects(ctx context.Context, emit func(scan.Object) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(s.parallel)
	for _, f := range s.manifest.Files {
		track := s.track(f.Key)
		if track.complete {
			continue
		}
		g.Go(func() error {
			if err := s.readFile(ctx, f, track, emit); err != nil {
				if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
					return err
				}
				return fmt.Errorf("inventory data file %s: %w", f.Key, err)
			}
			return nil
		})
	}
	return g.Wait()
}

func (s *Source) track(key string) *fileTrack {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.files[key]
	if t == nil {
		t = &fileTrack{key: key, done: map[int64]struct{}{}}
		s.files[key] = t
	}
	return t
}

// readFile reads one data file, checking its MD5, and emits its rows.
func (s *Source) readFile(ctx context.Context, f DataFile, track *fileTrack, emit func(scan.Object) error) error {
	body, err := s.open(ctx, f.Key)
	if err != nil {
		return err
	}
	defer body.Close()
	sum := md5.New()
	cache := newACLCache()
	owners := map[string]string{}
	var seq int64
	handle := func(row *Row) error {
		n := seq
		seq++
		if track.skip(n) {
			return nil
		}
		obj, err := s.object(row, cache, owners)
		if err != nil {
			return fmt.Errorf("row %d (key %q): %w", n+1, row.Key, err)
		}
		obj.Track(track, n)
		return emit(obj)
	}
	switch s.manifest.FileFormat {
	case FormatCSV:
		if err := readCSV(io.TeeReader(body, sum), s.cols, s.stdlibCSV, handle); err != nil {
			return err
		}
		// What the CSV reader left (gzip's trailer is read; a concatenated
		// member would be too) still counts for the checksum.
		if _, err := io.Copy(sum, body); err != nil {
			return err
		}
		if err := checkMD5(sum, f.MD5Checksum); err != nil {
			return err
		}
	case FormatParquet:
		// Parquet needs random access: the file is kept on disk while read.
		tmp, err := os.CreateTemp(s.tempDir, "aclscan-inventory-*.parquet")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err := io.Copy(io.MultiWriter(tmp, sum), body); err != nil {
			return fmt.Errorf("download: %w", err)
		}
		if err := checkMD5(sum, f.MD5Checksum); err != nil {
			return err
		}
		if err := readParquet(tmp, handle); err != nil {
			return err
		}
	}
	track.finish(seq)
	return nil
}

// checkMD5 compares a file's MD5 with the manifest's.
func checkMD5(sum hash.Hash, want string) error {
	if want == "" {
		return nil
	}
	if got := hex.EncodeToString(sum.Sum(nil)); !strings.EqualFold(got, want) {
		return fmt.Errorf("MD5 %s does not match the manifest's %s: the file is corrupt or truncated", got, want)
	}
	return nil
}

// object turns a row into the engine's object.
func (s *Source) object(row *Row, cache *aclCache, owners map[string]string) (scan.Object, error) {
	obj := scan.Object{Key: row.Key, VersionID: row.VersionID, IsLatest: row.IsLatest}
	if row.DeleteMarker {
		obj.DeleteMarker = true
		return obj, nil
	}
	grants, err := cache.decode(row.ACL)
	switch {
	case errors.Is(err, aclfield.ErrUnavailable):
		obj.Unavailable = true
		return obj, nil
	case err != nil:
		return obj, err
	}
	owner, ok := owners[string(row.Owner)]
	if !ok {
		owner = string(row.Owner)
		if len(owners) < maxCachedACLs {
			owners[owner] = owner
		}
	}
	obj.OwnerID = owner
	obj.Policy = acl.Policy{Owner: owner, Grants: grants}
	obj.Known = true
	return obj, nil
}

// position is what a checkpoint keeps of a Source.
type position struct {
	Files []filePosition `json:"files"`
}

type filePosition struct {
	Key string `json:"key"`
	// Through: rows [0, Through) are reported; Done: rows after it that are.
	Through  int64   `json:"through"`
	Done     []int64 `json:"done,omitempty"`
	Complete bool    `json:"complete,omitempty"`
}

// Position is where the source stands (scan.ResumableSource).
func (s *Source) Position() (json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pos position
	for _, f := range s.manifest.Files {
		t := s.files[f.Key]
		if t == nil {
			continue
		}
		pos.Files = append(pos.Files, t.position())
	}
	return json.Marshal(pos)
}

// fileTrack follows which rows of one data file were reported.
type fileTrack struct {
	key      string
	mu       sync.Mutex
	through  int64
	done     map[int64]struct{}
	rows     int64 // rows in the file, once read to the end
	read     bool
	complete bool
	// earlierThrough and earlierDone are what an earlier run reported
	// (fixed once the source is made: read without the lock, per row).
	earlierThrough int64
	earlierDone    map[int64]struct{}
}

// skip reports whether row n was reported by an earlier run.
func (t *fileTrack) skip(n int64) bool {
	if n < t.earlierThrough {
		return true
	}
	_, ok := t.earlierDone[n]
	return ok
}

// Reported marks row n reported (scan.Tracker).
func (t *fileTrack) Reported(n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n != t.through {
		t.done[n] = struct{}{}
		return
	}
	t.through++
	for {
		if _, ok := t.done[t.through]; !ok {
			break
		}
		delete(t.done, t.through)
		t.through++
	}
}

// finish records that the file was read to its end, with rows rows.
func (t *fileTrack) finish(rows int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rows, t.read = rows, true
}

func (t *fileTrack) position() filePosition {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := filePosition{Key: t.key, Through: t.through, Complete: t.complete || (t.read && t.through == t.rows)}
	for n := range t.done {
		p.Done = append(p.Done, n)
	}
	return p
}
