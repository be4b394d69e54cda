// Command gosdk is a peer of the scale benchmark: a plain aws-sdk-go-v2
// scanner with the SDK's default settings (configuration chain, HTTP
// client, retries), the whole bucket listed with the paginator and
// GetObjectAcl sent by a pool of workers. Prints the number of ACLs
// fetched.
//
//	go run ./bench/scale/gosdk -bucket BUCKET [-workers 64]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() {
	bucket := flag.String("bucket", "", "bucket to scan")
	workers := flag.Int("workers", 64, "concurrent GetObjectAcl calls")
	flag.Parse()
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Path style: the local S3 has no wildcard DNS.
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	keys := make(chan string, *workers)
	var fetched atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range keys {
				if _, err := client.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: bucket, Key: aws.String(key)}); err != nil {
					failed.Store(err)
					continue
				}
				fetched.Add(1)
			}
		}()
	}
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: bucket})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, obj := range page.Contents {
			keys <- aws.ToString(obj.Key)
		}
	}
	close(keys)
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(fetched.Load())
}
