// Package locals3 connects tests, the demo and the benchmarks to the local
// S3 server started by scripts/local-s3 (Ceph radosgw), and seeds buckets
// on it. It uses the plain AWS SDK, not aclscan's own client, so tests of
// aclscan do not lean on the code under test.
package locals3

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"
)

// User is one account of the local server.
type User struct {
	ID        string // canonical ID
	AccessKey string
	SecretKey string
}

// Env describes a running local S3.
type Env struct {
	HTTPURL  string
	HTTPSURL string
	CABundle string
	Conf     string // the cluster's ceph.conf, for extra gateways
	A        User   // owns the buckets
	B        User   // another account
	// STSURL is the gateway with STS (AssumeRole) on: roles are assumed
	// and their sessions used there (the main gateway answers as AWS
	// does to a bad key, which STS's engine changes).
	STSURL string
}

// RepoRoot finds the repository root (the directory holding go.work, the
// product's and the benchmarks' modules) from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.work (the repository root) not found above the working directory")
		}
		dir = parent
	}
}

// Start runs `scripts/local-s3 start` (which reuses a running instance) and
// returns its environment.
func Start(ctx context.Context) (Env, error) {
	root, err := RepoRoot()
	if err != nil {
		return Env{}, err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "local-s3"), "start")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Env{}, fmt.Errorf("scripts/local-s3 start: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return parseEnv(out)
}

func parseEnv(script []byte) (Env, error) {
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(script))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "export ")
		if !ok {
			continue
		}
		if name, value, ok := strings.Cut(line, "="); ok {
			vars[name] = value
		}
	}
	env := Env{
		HTTPURL:  vars["LOCAL_S3_HTTP_URL"],
		HTTPSURL: vars["LOCAL_S3_HTTPS_URL"],
		CABundle: vars["LOCAL_S3_CA_BUNDLE"],
		Conf:     vars["LOCAL_S3_CONF"],
		STSURL:   vars["LOCAL_S3_STS_URL"],
		A:        User{vars["LOCAL_S3_USER_A_ID"], vars["LOCAL_S3_USER_A_ACCESS_KEY"], vars["LOCAL_S3_USER_A_SECRET_KEY"]},
		B:        User{vars["LOCAL_S3_USER_B_ID"], vars["LOCAL_S3_USER_B_ACCESS_KEY"], vars["LOCAL_S3_USER_B_SECRET_KEY"]},
	}
	if env.HTTPURL == "" || env.A.AccessKey == "" || env.B.AccessKey == "" {
		return Env{}, fmt.Errorf("scripts/local-s3 printed no usable environment:\n%s", script)
	}
	return env, nil
}

// Client returns a plain SDK client acting as user u over plain HTTP.
func (e Env) Client(u User) *s3.Client {
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = 256
	})
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(e.HTTPURL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(u.AccessKey, u.SecretKey, ""),
		HTTPClient:   httpClient,
	})
}

// CreateBucket creates a bucket owned by the client's user; an existing
// bucket of the same owner is fine.
func CreateBucket(ctx context.Context, c *s3.Client, bucket string) error {
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err == nil || errors.As(err, &owned) {
		return nil
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "BucketAlreadyExists" {
		// RGW answers this to the owner too; check it is really ours.
		if _, herr := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket}); herr == nil {
			return nil
		}
	}
	return fmt.Errorf("create bucket %s: %w", bucket, err)
}

// EnableVersioning turns versioning on for a bucket.
func EnableVersioning(ctx context.Context, c *s3.Client, bucket string) error {
	_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  &bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	if err != nil {
		return fmt.Errorf("enable versioning on %s: %w", bucket, err)
	}
	return nil
}

// PutObjects uploads an empty object for each key, concurrently. edit, if
// not nil, may set ACL headers on each request.
func PutObjects(ctx context.Context, c *s3.Client, bucket string, keys []string, edit func(*s3.PutObjectInput)) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for _, key := range keys {
		g.Go(func() error {
			in := &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(key), Body: bytes.NewReader(nil), ContentLength: aws.Int64(0)}
			if edit != nil {
				edit(in)
			}
			if _, err := c.PutObject(ctx, in); err != nil {
				return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// CountObjects counts the keys under a bucket (all pages).
func CountObjects(ctx context.Context, c *s3.Client, bucket string) (int, error) {
	n := 0
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		n += len(page.Contents)
	}
	return n, nil
}

// GrantBucketWrite lets user b write into a's bucket (the owner keeps full control).
func GrantBucketWrite(ctx context.Context, c *s3.Client, bucket string, owner, writer User) error {
	return GrantBucketAccess(ctx, c, bucket, owner, writer, "WRITE")
}

// GrantBucketAccess replaces the bucket ACL with full control for owner
// and permission (READ or WRITE) for other.
func GrantBucketAccess(ctx context.Context, c *s3.Client, bucket string, owner, other User, permission string) error {
	in := &s3.PutBucketAclInput{Bucket: &bucket, GrantFullControl: aws.String("id=" + owner.ID)}
	switch permission {
	case "READ":
		in.GrantRead = aws.String("id=" + other.ID)
	case "WRITE":
		in.GrantWrite = aws.String("id=" + other.ID)
	default:
		return fmt.Errorf("unsupported bucket permission %q", permission)
	}
	if _, err := c.PutBucketAcl(ctx, in); err != nil {
		return fmt.Errorf("grant %s %s on %s: %w", other.ID, permission, bucket, err)
	}
	return nil
}

// Keys returns n keys "prefix000000" .. in lexical order.
func Keys(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%06d", prefix, i)
	}
	return keys
}

// PublicRead is an edit for PutObjects that uploads with the canned ACL
// public-read.
func PublicRead(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLPublicRead }
