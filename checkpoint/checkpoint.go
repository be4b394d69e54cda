// Package checkpoint stores where an interrupted scan stands, so that the
// same command continues it: the engine's state (key ranges left, entries
// already reported, counts) and how far the report file goes. A file is
// replaced atomically (written aside, synced, renamed), so a crash leaves
// either the previous checkpoint or the new one, never a torn one.
package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aclscan/aclscan/scan"
)

// formatVersion changes when the file's meaning changes.
const formatVersion = 1

// File is the content of a checkpoint file.
type File struct {
	Version int `json:"version"`
	// Report is the report file the scan appends to, its format, and the
	// length it had when the state was taken: a resumed scan cuts the
	// report back to it, dropping records the state does not count.
	Report      string     `json:"report"`
	Format      string     `json:"format"`
	ReportBytes int64      `json:"reportBytes"`
	Scan        scan.State `json:"scan"`
	// AllBuckets marks a run over every bucket of an account; Buckets
	// then holds the state of each bucket it started.
	AllBuckets bool         `json:"allBuckets,omitempty"`
	Buckets    []scan.State `json:"buckets,omitempty"`
	// Accounts are the accounts of a run over accounts (their buckets'
	// states are in Buckets): a resumed run must be over the same ones.
	Accounts []string `json:"accounts,omitempty"`
}

// Load reads a checkpoint; it returns nil and no error when path does not
// exist (a new scan).
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s is not an aclscan checkpoint: %v", path, err)
	}
	if f.Version != formatVersion {
		return nil, fmt.Errorf("%s is a checkpoint of version %d; this aclscan reads version %d", path, f.Version, formatVersion)
	}
	return &f, nil
}

// Save replaces the checkpoint at path with f, atomically and durably.
// It is readable by its owner only: it names the bucket's keys.
func Save(path string, f *File) error {
	f.Version = formatVersion
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, nothing to remove
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
