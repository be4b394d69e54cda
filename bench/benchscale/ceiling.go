package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ceilingResult is what the ceiling client prints.
type ceilingResult struct {
	Requests int     `json:"requests"`
	Seconds  float64 `json:"seconds"`
}

// runCeiling is the fastest minimal client this harness can build, to
// measure how many GetObjectAcl per second the server itself sustains:
// the keys are listed before the clock starts, and the timed part only
// signs and sends one request per key from a pool of workers over
// kept-alive connections and discards the bodies (no parsing, no
// retries, no SDK).
func runCeiling(args []string) error {
	fs := flag.NewFlagSet("ceiling", flag.ExitOnError)
	bucket := fs.String("bucket", "", "bucket")
	workers := fs.Int("workers", 64, "requests in flight")
	_ = fs.Parse(args)
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	endpoint := os.Getenv("AWS_ENDPOINT_URL_S3")
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return err
	}
	// S3 signs the path as sent, without escaping it a second time.
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	var keys []string
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: bucket})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, obj := range page.Contents {
			keys = append(keys, aws.ToString(obj.Key))
		}
	}
	transport := &http.Transport{MaxIdleConnsPerHost: *workers + 8, MaxIdleConns: *workers + 8, DisableCompression: true}
	hc := &http.Client{Transport: transport}
	work := make(chan string, *workers)
	var wg sync.WaitGroup
	var failed error
	var mu sync.Mutex
	start := time.Now()
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range work {
				req, err := http.NewRequest(http.MethodGet, endpoint+"/"+*bucket+"/"+escapePath(key)+"?acl=", nil)
				if err != nil {
					panic(err)
				}
				req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
				if err := signer.SignHTTP(ctx, creds, req, emptySHA256, "s3", cfg.Region, time.Now()); err != nil {
					panic(err)
				}
				resp, err := hc.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("HTTP %d", resp.StatusCode)
					}
				}
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
				}
			}
		}()
	}
	for _, key := range keys {
		work <- key
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	if failed != nil {
		return failed
	}
	return json.NewEncoder(os.Stdout).Encode(ceilingResult{Requests: len(keys), Seconds: elapsed.Seconds()})
}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// escapePath escapes a key for a URL path, keeping its slashes.
func escapePath(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
