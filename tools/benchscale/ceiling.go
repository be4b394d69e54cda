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
// every request is presigned before the clock starts, and the timed part
// only sends them from a pool of workers over kept-alive connections and
// discards the bodies (no parsing, no signing, no retries).
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
	var urls []string
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: bucket})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, obj := range page.Contents {
			u := endpoint + "/" + *bucket + "/" + escapePath(aws.ToString(obj.Key)) + "?acl="
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			signed, _, err := signer.PresignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", "s3", cfg.Region, time.Now())
			if err != nil {
				return err
			}
			urls = append(urls, signed)
		}
	}
	transport := &http.Transport{MaxIdleConnsPerHost: *workers + 8, MaxIdleConns: *workers + 8}
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
			for u := range work {
				resp, err := hc.Get(u)
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
	for _, u := range urls {
		work <- u
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	if failed != nil {
		return failed
	}
	return json.NewEncoder(os.Stdout).Encode(ceilingResult{Requests: len(urls), Seconds: elapsed.Seconds()})
}

// escapePath escapes a key for a URL path, keeping its slashes.
func escapePath(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
