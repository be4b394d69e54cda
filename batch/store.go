package batch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aclscan/aclscan/s3access"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Store is where the reports of runs are kept: a bucket (under a
// prefix) or a local folder. Keys are relative to it, "/"-separated.
type Store interface {
	Put(ctx context.Context, key string, body []byte) error
	// Get returns an error wrapping fs.ErrNotExist for a missing key.
	Get(ctx context.Context, key string) ([]byte, error)
	// Open streams a key's content (a file too large to hold whole).
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// List returns the keys under prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Where names a key for messages (s3://... or a path).
	Where(key string) string
}

// S3API is what an S3 store needs of a client (*s3.Client has it).
type S3API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// S3Store keeps reports in s3://Bucket/Prefix.
type S3Store struct {
	API    S3API
	Bucket string
	Prefix string // "" or ending in "/"
	// ExpectedOwner, when set, is sent as ExpectedBucketOwner on every
	// request: the run's reports are never read from, or written to, a
	// bucket another account took over under the same name.
	ExpectedOwner string
}

// owner is the ExpectedBucketOwner to send (nil for none).
func (s *S3Store) owner() *string {
	if s.ExpectedOwner == "" {
		return nil
	}
	return &s.ExpectedOwner
}

// NewS3Store is a store under s3://bucket/prefix (a "/" is added to a
// prefix that lacks one).
func NewS3Store(api S3API, bucket, prefix string) *S3Store {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &S3Store{API: api, Bucket: bucket, Prefix: prefix}
}

func (s *S3Store) Where(key string) string { return "s3://" + s.Bucket + "/" + s.Prefix + key }

func (s *S3Store) Put(ctx context.Context, key string, body []byte) error {
	full := s.Prefix + key
	ctype := "application/json"
	if strings.HasSuffix(key, ".jsonl") {
		ctype = "application/x-ndjson"
	}
	_, err := s.API.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.Bucket, Key: &full, Body: bytes.NewReader(body), ContentType: &ctype, ExpectedBucketOwner: s.owner()})
	if err != nil {
		return fmt.Errorf("write %s: %w", s.Where(key), err)
	}
	return nil
}

// Open streams the object at key.
func (s *S3Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	full := s.Prefix + key
	out, err := s.API.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: &full, ExpectedBucketOwner: s.owner()})
	if err != nil {
		if s3access.IsNotFound(err) {
			return nil, fmt.Errorf("read %s: %w", s.Where(key), fs.ErrNotExist)
		}
		return nil, fmt.Errorf("read %s: %w", s.Where(key), err)
	}
	return out.Body, nil
}

func (s *S3Store) Get(ctx context.Context, key string) ([]byte, error) {
	body, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.Where(key), err)
	}
	return b, nil
}

func (s *S3Store) List(ctx context.Context, prefix string) ([]string, error) {
	full := s.Prefix + prefix
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.API, &s3.ListObjectsV2Input{Bucket: &s.Bucket, Prefix: &full, ExpectedBucketOwner: s.owner()})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", s.Where(prefix), err)
		}
		for _, o := range page.Contents {
			keys = append(keys, strings.TrimPrefix(*o.Key, s.Prefix))
		}
	}
	return keys, nil // ListObjectsV2 returns keys in order
}

// DirStore keeps reports in a local folder (a run copied down with
// `aws s3 sync`, or tests).
type DirStore struct{ Dir string }

func (d DirStore) Where(key string) string { return filepath.Join(d.Dir, filepath.FromSlash(key)) }

func (d DirStore) Put(_ context.Context, key string, body []byte) error {
	path := d.Where(key)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, body, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Open opens the file at key.
func (d DirStore) Open(_ context.Context, key string) (io.ReadCloser, error) {
	f, err := os.Open(d.Where(key))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.Where(key), err)
	}
	return f, nil
}

func (d DirStore) Get(_ context.Context, key string) ([]byte, error) {
	b, err := os.ReadFile(d.Where(key))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.Where(key), err)
	}
	return b, nil
}

func (d DirStore) List(_ context.Context, prefix string) ([]string, error) {
	var keys []string
	err := filepath.WalkDir(d.Dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || strings.HasSuffix(path, ".tmp") {
			return nil
		}
		rel, err := filepath.Rel(d.Dir, path)
		if err != nil {
			return err
		}
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", d.Dir, err)
	}
	sort.Strings(keys)
	return keys, nil
}
