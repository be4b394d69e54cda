package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aclscan/aclscan/bench/internal/toxiproxy"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const benchBucket = "lambda-bench-100"

// floor is the physical limit of one invocation, measured through the proxy.
type floor struct {
	listMS, aclMS, connectMS float64
	// waveMS is what this machine achieves at best: one list, then all 100
	// GetObjectAcl at once over warm connections, without CPU limit. It is
	// above the round-trip floor when RGW and toxiproxy, sharing the
	// client's two cores, cannot serve 100 requests within one round trip.
	waveMS float64
}

func (f floor) totalMS() float64 { return f.listMS + f.aclMS + f.connectMS }

func run(ctx context.Context, o options) error {
	env, err := locals3.Start(ctx)
	if err != nil {
		return err
	}
	a := env.Client(env.A)
	if err := locals3.CreateBucket(ctx, a, benchBucket); err != nil {
		return err
	}
	switch have, err := locals3.CountObjects(ctx, a, benchBucket); {
	case err != nil:
		return err
	case have > 100:
		return fmt.Errorf("bucket %s holds %d objects, not 100", benchBucket, have)
	case have < 100:
		if err := locals3.PutObjects(ctx, a, benchBucket, locals3.Keys("obj/", 100), nil); err != nil {
			return err
		}
	}
	upstream := strings.TrimPrefix(env.HTTPSURL, "https://")
	endpoint, err := setupProxy(o, upstream)
	if err != nil {
		return err
	}
	// botocore reads path-style addressing from a config file only.
	cfgFile := filepath.Join(os.TempDir(), "aclscan-bench-aws-config")
	if err := os.WriteFile(cfgFile, []byte("[default]\ns3 =\n    addressing_style = path\n"), 0o644); err != nil {
		return err
	}
	funcEnv := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"AWS_ACCESS_KEY_ID=" + env.A.AccessKey, "AWS_SECRET_ACCESS_KEY=" + env.A.SecretKey,
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_ENDPOINT_URL_S3=" + endpoint, "AWS_CA_BUNDLE=" + env.CABundle, "NODE_EXTRA_CA_CERTS=" + env.CABundle,
		"AWS_CONFIG_FILE=" + cfgFile, "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"BUCKET_NAME=" + benchBucket,
	}
	fl, err := measureFloor(ctx, env, endpoint)
	if err != nil {
		return fmt.Errorf("measure the floor: %w", err)
	}
	logf("floor through the proxy: list %.1f ms + GetObjectAcl %.1f ms + TCP/TLS set-up %.1f ms = %.1f ms; list + 100 concurrent GetObjectAcl: %.1f ms",
		fl.listMS, fl.aclMS, fl.connectMS, fl.totalMS(), fl.waveMS)

	impls := implementations(o)
	var results []cellResult
	started := time.Now()
	failed := 0
	for _, mb := range o.memories {
		for _, im := range impls {
			if im.unavailable != "" {
				results = append(results, cellResult{impl: im, memory: mb, failure: im.unavailable})
				continue
			}
			r := runCell(ctx, o, im, mb, append(funcEnv, o.funcEnv...), o.invocations)
			if r.failure != "" {
				failed++
				logf("%5d MB %-22s FAILED: %s", mb, im.name, r.failure)
			} else {
				st := stats(r)
				logf("%5d MB %-22s avg %7.1f ms  p50 %7.1f  p95 %7.1f  cold %7.1f (init %.0f)", mb, im.name, st.avg, st.p50, st.p95, r.coldMS, r.initMS)
			}
			results = append(results, r)
		}
		// Written after each memory size, so an interrupted run keeps its cells.
		if err := writeOutputs(o, results, fl, time.Since(started)); err != nil {
			return err
		}
	}
	logf("all cells done in %s; results in %s", time.Since(started).Round(time.Second), o.outDir)
	if failed > 0 {
		return fmt.Errorf("%d cells failed", failed)
	}
	return nil
}

func setupProxy(o options, upstream string) (string, error) {
	listen := fmt.Sprintf("127.0.0.1:%d", o.proxyPort)
	if err := toxiproxy.LatencyProxy(o.toxiproxy, "rgw-https-latency", listen, upstream, o.latencyMS); err != nil {
		return "", err
	}
	return "https://" + listen, nil
}

// measureFloor times, without CPU limits and on kept-alive connections,
// one ListObjectsV2 and one GetObjectAcl round trip through the proxy, and
// a fresh TCP + TLS connection set-up (medians).
func measureFloor(ctx context.Context, env locals3.Env, endpoint string) (floor, error) {
	c, err := s3access.New(ctx, s3access.Options{EndpointURL: endpoint, CABundle: env.CABundle, Region: "us-east-1", Connections: 256, Credentials: env.A.Credentials()})
	if err != nil {
		return floor{}, err
	}
	median := func(n int, f func() error) (float64, error) {
		var t []float64
		for i := 0; i < n; i++ {
			start := time.Now()
			if err := f(); err != nil {
				return 0, err
			}
			t = append(t, float64(time.Since(start).Microseconds())/1000)
		}
		slices.Sort(t)
		return t[len(t)/2], nil
	}
	bucket := benchBucket
	var fl floor
	if fl.listMS, err = median(11, func() error {
		_, err := c.ListPage(ctx, &s3access.ListRequest{Bucket: bucket})
		return err
	}); err != nil {
		return fl, err
	}
	if fl.aclMS, err = median(21, func() error {
		_, err := c.SDK().GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: &bucket, Key: aws.String("obj/000000")})
		return err
	}); err != nil {
		return fl, err
	}
	keys := locals3.Keys("obj/", 100)
	if fl.waveMS, err = median(11, func() error {
		if _, err := c.ListPage(ctx, &s3access.ListRequest{Bucket: bucket}); err != nil {
			return err
		}
		errs := make(chan error, len(keys))
		for _, k := range keys {
			go func() {
				_, err := c.GetObjectACL(ctx, bucket, k, "")
				errs <- err
			}()
		}
		for range keys {
			if err := <-errs; err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fl, err
	}
	pemBytes, err := os.ReadFile(env.CABundle)
	if err != nil {
		return fl, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	host := strings.TrimPrefix(endpoint, "https://")
	fl.connectMS, err = median(11, func() error {
		conn, err := tls.Dial("tcp", host, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err != nil {
			return err
		}
		return conn.Close()
	})
	return fl, err
}
