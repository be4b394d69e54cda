// Command benchwatch measures `aclscan watch` against radosgw's own push
// notifications: the latency from an upload's completion to its record in
// the watch's output (p50, p99, max), over a steady trickle with the
// connection warm, then a burst of uploads at once (every object judged
// once: none lost, none twice; the watch's peak RSS). Run it with
// `make bench-watch`; it writes docs/benchmarks/watch.md.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/internal/testkit"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func main() {
	trickle := flag.Int("trickle", 200, "uploads one at a time, for the latency")
	burst := flag.Int("burst", 10000, "uploads at once, for loss, duplicates and memory")
	workers := flag.Int("workers", 16, "concurrent uploads of the burst")
	out := flag.String("o", "", "report file (docs/benchmarks/watch.md, or watch-lambda.md with -lambda)")
	lambda := flag.Bool("lambda", false, "time the watch function under the Lambda emulator instead, and its cost per million events")
	batches := flag.Int("batches", 100, "with -lambda: SQS batches of ten events per memory size")
	flag.Parse()
	if *lambda {
		if *out == "" {
			*out = "docs/benchmarks/watch-lambda.md"
		}
		if err := runLambda(*batches, *out); err != nil {
			fmt.Fprintln(os.Stderr, "benchwatch:", err)
			os.Exit(1)
		}
		return
	}
	if *out == "" {
		*out = "docs/benchmarks/watch.md"
	}
	if err := run(*trickle, *burst, *workers, *out); err != nil {
		fmt.Fprintln(os.Stderr, "benchwatch:", err)
		os.Exit(1)
	}
}

// tail follows the watch's JSON-lines output and stamps each record's key
// with the time it was seen (polled every 2 ms).
type tail struct {
	mu   sync.Mutex
	seen map[string][]time.Time
}

func (t *tail) follow(ctx context.Context, path string) {
	var f *os.File
	for f == nil && ctx.Err() == nil {
		f, _ = os.Open(path)
		time.Sleep(2 * time.Millisecond)
	}
	if f == nil {
		return
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var partial []byte
	for ctx.Err() == nil {
		line, err := r.ReadBytes('\n')
		partial = append(partial, line...)
		if err != nil {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		var rec struct {
			Key string `json:"key"`
		}
		if json.Unmarshal(partial, &rec) == nil {
			t.mu.Lock()
			t.seen[rec.Key] = append(t.seen[rec.Key], time.Now())
			t.mu.Unlock()
		}
		partial = partial[:0]
	}
}

func (t *tail) when(key string) (time.Time, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.seen[key]; len(s) > 0 {
		return s[0], len(s)
	}
	return time.Time{}, 0
}

func run(trickle, burst, workers int, out string) error {
	ctx := context.Background()
	env, err := locals3.Start(ctx)
	if err != nil {
		return err
	}
	a := env.Client(env.A)
	bucket := fmt.Sprintf("bench-watch-%d", time.Now().Unix())
	if err := locals3.CreateBucket(ctx, a, bucket); err != nil {
		return err
	}
	bin, cleanup, err := testkit.BuildCLI(false)
	if err != nil {
		return err
	}
	defer cleanup()
	dir, err := os.MkdirTemp("", "benchwatch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	records, stderrPath := filepath.Join(dir, "watch.jsonl"), filepath.Join(dir, "stderr")
	stderr, err := os.Create(stderrPath)
	if err != nil {
		return err
	}
	defer stderr.Close()
	cmd := exec.Command(bin, "watch", "--listen", "127.0.0.1:0", "-o", records, "--no-accept")
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_S3="+env.HTTPURL, "AWS_ACCESS_KEY_ID="+env.A.AccessKey, "AWS_SECRET_ACCESS_KEY="+env.A.SecretKey)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Process.Kill()
	var endpoint string
	for deadline := time.Now().Add(30 * time.Second); endpoint == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(stderrPath)
		endpoint = regexp.MustCompile(`http://127\.0\.0\.1:\d+/`).FindString(string(b))
	}
	if endpoint == "" {
		return fmt.Errorf("the watch did not say where it listens")
	}
	acls := []types.ObjectCannedACL{types.ObjectCannedACLPrivate, types.ObjectCannedACLPublicRead, types.ObjectCannedACLAuthenticatedRead}
	timedPut := func(key string, i int) (time.Duration, time.Time, error) {
		began := time.Now()
		err := locals3.PutObjects(ctx, a, bucket, []string{key}, func(in *s3.PutObjectInput) { in.ACL = acls[i%len(acls)] })
		return time.Since(began), time.Now(), err
	}
	// Uploads before the bucket notifies anyone: what an upload costs alone.
	var alone []time.Duration
	for i := range trickle {
		took, _, err := timedPut(fmt.Sprintf("alone/%06d", i), i)
		if err != nil {
			return err
		}
		alone = append(alone, took)
	}
	if err := locals3.PushTo(ctx, env, locals3.Push{Bucket: bucket, Endpoint: endpoint}); err != nil {
		return err
	}
	followCtx, stop := context.WithCancel(ctx)
	defer stop()
	t := &tail{seen: map[string][]time.Time{}}
	go t.follow(followCtx, records)

	// Mixed ACLs and keys that encodings trip over.
	keyOf := func(phase string, i int) string {
		return fmt.Sprintf("%s/%06d a+b%%41 é", phase, i)
	}
	// Latency: one upload at a time, each waited for.
	var latencies, notified []time.Duration
	for i := range trickle {
		key := keyOf("trickle", i)
		took, done, err := timedPut(key, i)
		if err != nil {
			return err
		}
		notified = append(notified, took)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if at, _ := t.when(key); !at.IsZero() {
				latencies = append(latencies, at.Sub(done))
				break
			}
		}
	}
	// Burst: every upload at once.
	start := time.Now()
	var wg sync.WaitGroup
	keys := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range keys {
				_, _, _ = timedPut(keyOf("burst", i), i)
			}
		}()
	}
	for i := range burst {
		keys <- i
	}
	close(keys)
	wg.Wait()
	uploaded := time.Since(start)
	var lastSeen time.Time
	missing, twice := 0, 0
	for deadline := time.Now().Add(120 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		missing, twice = 0, 0
		for i := range burst {
			at, n := t.when(keyOf("burst", i))
			switch {
			case n == 0:
				missing++
			case n > 1:
				twice++
			}
			if at.After(lastSeen) {
				lastSeen = at
			}
		}
		if missing == 0 {
			break
		}
	}
	rss := peakRSS(cmd.Process.Pid)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	return write(out, trickle, burst, workers, latencies, alone, notified, uploaded, lastSeen.Sub(start), missing, twice, rss)
}

// peakRSS is the process's peak resident set (VmHWM), in MiB.
func peakRSS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			var kb float64
			fmt.Sscan(f[1], &kb)
			return kb / 1024
		}
	}
	return 0
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func write(out string, trickle, burst, workers int, lat, alone, notified []time.Duration, uploaded, judged time.Duration, missing, twice int, rss float64) error {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	var b strings.Builder
	fmt.Fprintf(&b, "# Watch: from an upload to its record\n\n")
	fmt.Fprintf(&b, "Measured %s on this 2-core machine (the local radosgw, the watch and the uploader\nshare the cores) with `make bench-watch` (`go run ./bench/benchwatch`).\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "radosgw pushes each created object's event record to `aclscan watch --listen`;\nthe watch reads the object's ACL, judges it and writes its record. Keys hold `+`, `%%41`, a\nspace and `é`; ACLs alternate private, public-read and authenticated-read.\n\n")
	fmt.Fprintf(&b, "## Latency (%d uploads one at a time, the connection warm)\n\n", len(lat))
	fmt.Fprintf(&b, "From the upload's answer to the record in the watch's output (polled every 2 ms):\n\n")
	fmt.Fprintf(&b, "| p50 | p99 | max |\n|---|---|---|\n| %s | %s | %s |\n\n", ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)), ms(percentile(lat, 1)))
	fmt.Fprintf(&b, "Goal: p99 at most 100 ms. %s\n\n", map[bool]string{true: "Met.", false: "Missed."}[percentile(lat, 0.99) <= 100*time.Millisecond])
	fmt.Fprintf(&b, "radosgw sends a topic's push within the upload (a non-persistent topic): the upload is answered\nonly once the watch answered the push, which it does after the record is written. So the record is\nthere when the upload returns, and the event-to-record time is what the push adds to an upload:\n\n")
	fmt.Fprintf(&b, "| upload alone, p50 / p99 | upload with the push, p50 / p99 | added by the watch, p50 |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| %s / %s | %s / %s | %s |\n\n", ms(percentile(alone, 0.5)), ms(percentile(alone, 0.99)), ms(percentile(notified, 0.5)), ms(percentile(notified, 0.99)),
		ms(percentile(notified, 0.5)-percentile(alone, 0.5)))
	fmt.Fprintf(&b, "A slow watch therefore slows uploads on radosgw; a persistent topic (`persistent=true`) queues\nthe pushes instead. On AWS, S3 delivers to SQS or EventBridge on its own: the watch adds nothing\nto uploads.\n\n")
	fmt.Fprintf(&b, "## Burst (%d uploads, %d at once)\n\n", burst, workers)
	fmt.Fprintf(&b, "| uploaded in | all judged after | records missing | objects written twice | watch's peak RSS |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %s | %s | %d | %d | %.1f MiB |\n\n", uploaded.Round(time.Millisecond), judged.Round(time.Millisecond), missing, twice, rss)
	fmt.Fprintf(&b, "(%d trickle uploads of the first part are in the same run and the same memory.)\n", trickle)
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(b.String())
	return nil
}
