package engines

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aclscan/aclscan/batch"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// ListingItems lists a bucket as the ListObjectsV2 ItemReader does: one
// item per object, {"Etag", "Key", "LastModified" (epoch seconds),
// "Size", "StorageClass"}.
func ListingItems(ctx context.Context, client *s3.Client, bucket, prefix string) ([]json.RawMessage, error) {
	var items []json.RawMessage
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			b, _ := json.Marshal(map[string]any{
				"Etag": *o.ETag, "Key": *o.Key, "LastModified": o.LastModified.Unix(), "Size": *o.Size, "StorageClass": string(o.StorageClass),
			})
			items = append(items, b)
		}
	}
	return items, nil
}

// InventoryItems reads a CSV S3 Inventory report as the MANIFEST
// ItemReader does: one item per row, keyed by the manifest's fileSchema,
// every value a string (the key as the report has it, URL-encoded).
func InventoryItems(ctx context.Context, client *s3.Client, bucket, manifestKey string) ([]json.RawMessage, error) {
	store := batch.NewS3Store(client, bucket, "")
	body, err := store.Get(ctx, manifestKey)
	if err != nil {
		return nil, err
	}
	var m struct {
		FileFormat string `json:"fileFormat"`
		FileSchema string `json:"fileSchema"`
		Files      []struct {
			Key string `json:"key"`
		} `json:"files"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", manifestKey, err)
	}
	if m.FileFormat != "CSV" {
		return nil, fmt.Errorf("the MANIFEST reader takes CSV inventory reports, not %s", m.FileFormat)
	}
	columns := strings.Split(m.FileSchema, ",")
	for i := range columns {
		columns[i] = strings.TrimSpace(columns[i])
	}
	var items []json.RawMessage
	for _, f := range m.Files {
		data, err := store.Get(ctx, f.Key)
		if err != nil {
			return nil, err
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Key, err)
		}
		rows := csv.NewReader(zr)
		for {
			rec, err := rows.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Key, err)
			}
			item := make(map[string]string, len(columns))
			for i, c := range columns {
				if i < len(rec) {
					item[c] = rec[i]
				}
			}
			b, _ := json.Marshal(item)
			items = append(items, b)
		}
	}
	return items, nil
}

// Batches groups items as ItemBatcher does: at most maxItems items and
// maxBytes of items (0: no bound) per batch, in order.
func Batches(items []json.RawMessage, maxItems, maxBytes int) [][]json.RawMessage {
	var out [][]json.RawMessage
	var cur []json.RawMessage
	size := 0
	for _, it := range items {
		if len(cur) > 0 && (len(cur) == maxItems || (maxBytes > 0 && size+len(it)+1 > maxBytes)) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, it)
		size += len(it) + 1
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// Retrier is one entry of a Task state's Retry field.
type Retrier struct {
	ErrorEquals     []string `json:"ErrorEquals"`
	IntervalSeconds float64  `json:"IntervalSeconds"`
	MaxAttempts     int      `json:"MaxAttempts"`
	BackoffRate     float64  `json:"BackoffRate"`
}

// LoadRetry reads the Retry field of the Lambda task inside a
// definition's Distributed Map: the driver retries as the definition says.
func LoadRetry(aslPath string) ([]Retrier, error) {
	b, err := os.ReadFile(aslPath)
	if err != nil {
		return nil, err
	}
	var def struct {
		States map[string]struct {
			ItemProcessor struct {
				States map[string]struct {
					Resource string    `json:"Resource"`
					Retry    []Retrier `json:"Retry"`
				} `json:"States"`
			} `json:"ItemProcessor"`
		} `json:"States"`
	}
	if err := json.Unmarshal(b, &def); err != nil {
		return nil, fmt.Errorf("%s: %w", aslPath, err)
	}
	for _, st := range def.States {
		for _, child := range st.ItemProcessor.States {
			if child.Resource == "arn:aws:states:::lambda:invoke" {
				return child.Retry, nil
			}
		}
	}
	return nil, fmt.Errorf("%s has no Lambda task inside a Map state", aslPath)
}

// Child is one child execution of a Map Run (one batch), as the
// ResultWriter records it.
type Child struct {
	Input, Output string
	Status        string // SUCCEEDED or FAILED
	Error, Cause  string
	Attempts      int
	// Duration is the successful invocation's time (what one child
	// processes its batch in).
	Duration time.Duration
}

// MapRun is a Distributed Map run over batches: each emulator runs one
// child at a time (MaxConcurrency = the emulators), failures are retried
// as Retry says, and the results are written as ResultWriter does.
type MapRun struct {
	Emulators  []*Emulator
	BatchInput map[string]any
	Retry      []Retrier
	// TimeScale shortens the retry intervals (tests: 0.01).
	TimeScale float64
	// Interrupt, when set, is called after each child ends: a test kills
	// an emulator from there.
	Interrupt func(done int)
}

// Run runs every batch and returns the children in batch order.
func (m *MapRun) Run(ctx context.Context, batches [][]json.RawMessage) ([]Child, error) {
	children := make([]Child, len(batches))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for _, em := range m.Emulators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				children[i] = m.child(ctx, em, batches[i])
				mu.Lock()
				done++
				n := done
				mu.Unlock()
				if m.Interrupt != nil {
					m.Interrupt(n)
				}
			}
		}()
	}
	for i := range batches {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	return children, ctx.Err()
}

// ExpressLimit is how long an Express child workflow may run, retries
// included (Step Functions quotas).
const ExpressLimit = 5 * time.Minute

// child runs one batch with the definition's retries; an emulator that
// died is restarted first (Lambda gives the retry a new environment).
func (m *MapRun) child(ctx context.Context, em *Emulator, items []json.RawMessage) Child {
	input, _ := json.Marshal(map[string]any{"BatchInput": m.BatchInput, "Items": items})
	c := Child{Input: string(input)}
	attempts := map[int]int{} // retrier index -> retries used
	// spent is the child's time as Step Functions counts it: the
	// invocations as they ran, the waits between them unscaled. An
	// Express child that runs over 5 minutes fails (States.Timeout).
	var spent time.Duration
	for {
		if spent > ExpressLimit {
			c.Status, c.Error, c.Cause = "FAILED", "States.Timeout", fmt.Sprintf("the Express child ran %v, over its %v", spent.Round(time.Second), ExpressLimit)
			return c
		}
		c.Attempts++
		start := time.Now()
		out, err := em.Invoke(ctx, input)
		spent += time.Since(start)
		if err == nil {
			c.Status, c.Output, c.Duration = "SUCCEEDED", string(out), time.Since(start)
			return c
		}
		name := "Lambda.Unknown"
		var fe *FunctionError
		switch {
		case errors.As(err, &fe):
			name = fe.Type
		case errors.Is(err, ErrServiceException):
			name = "Lambda.ServiceException"
			em.Kill()
			if serr := em.Start(); serr != nil {
				c.Status, c.Error, c.Cause = "FAILED", name, serr.Error()
				return c
			}
		}
		c.Error, c.Cause = name, err.Error()
		r := m.retrierFor(name)
		if r < 0 || attempts[r] >= m.Retry[r].MaxAttempts {
			c.Status = "FAILED"
			return c
		}
		unscaled := m.Retry[r].IntervalSeconds * pow(m.Retry[r].BackoffRate, attempts[r])
		spent += time.Duration(unscaled * float64(time.Second))
		wait := unscaled * m.TimeScale
		attempts[r]++
		select {
		case <-time.After(time.Duration(wait * float64(time.Second))):
		case <-ctx.Done():
			c.Status = "FAILED"
			return c
		}
	}
}

func (m *MapRun) retrierFor(name string) int {
	for i, r := range m.Retry {
		if slices.Contains(r.ErrorEquals, name) || slices.Contains(r.ErrorEquals, "States.ALL") {
			return i
		}
	}
	return -1
}

func pow(b float64, n int) float64 {
	if b == 0 {
		b = 2
	}
	x := 1.0
	for range n {
		x *= b
	}
	return x
}

// WriteResults writes what ResultWriter writes for the children under
// prefix (PREFIX/MAP-RUN-ID/): manifest.json, SUCCEEDED_0.json and
// FAILED_0.json, with Input and Output as JSON strings.
func WriteResults(ctx context.Context, client *s3.Client, bucket, prefix, mapRunID string, children []Child) error {
	dir := strings.TrimSuffix(prefix, "/") + "/" + mapRunID + "/"
	store := batch.NewS3Store(client, bucket, "")
	files := map[string][]map[string]any{"SUCCEEDED": {}, "FAILED": {}}
	for i, c := range children {
		rec := map[string]any{
			"ExecutionArn": fmt.Sprintf("arn:aws:states:us-east-1:123456789012:execution:aclscan-listing/Map:%s-%d", mapRunID, i),
			"Input":        c.Input, "InputDetails": map[string]bool{"Included": true},
			"Status": c.Status, "RedriveCount": 0,
		}
		if c.Status == "SUCCEEDED" {
			rec["Output"], rec["OutputDetails"] = c.Output, map[string]bool{"Included": true}
		} else {
			rec["Error"], rec["Cause"] = c.Error, c.Cause
		}
		files[c.Status] = append(files[c.Status], rec)
	}
	manifest := map[string]any{
		"DestinationBucket": bucket,
		"MapRunArn":         "arn:aws:states:us-east-1:123456789012:mapRun:aclscan-listing/Map:" + mapRunID,
		"ResultFiles":       map[string][]map[string]any{"FAILED": {}, "PENDING": {}, "SUCCEEDED": {}},
	}
	for status, recs := range files {
		if len(recs) == 0 {
			continue
		}
		key := dir + status + "_0.json"
		body, _ := json.Marshal(recs)
		if err := store.Put(ctx, key, body); err != nil {
			return err
		}
		manifest["ResultFiles"].(map[string][]map[string]any)[status] = []map[string]any{{"Key": key, "Size": len(body)}}
	}
	body, _ := json.Marshal(manifest)
	return store.Put(ctx, dir+"manifest.json", body)
}

// Seed fills bucket with n empty objects obj/000000.. (if it does not
// hold exactly n already), public-read where public says so.
func Seed(ctx context.Context, client *s3.Client, bucket string, n int, public func(key string) bool) error {
	if err := locals3.CreateBucket(ctx, client, bucket); err != nil {
		return err
	}
	if have, _ := locals3.CountObjects(ctx, client, bucket); have == n {
		return nil
	}
	return locals3.PutObjects(ctx, client, bucket, locals3.Keys("obj/", n), func(in *s3.PutObjectInput) {
		if public(*in.Key) {
			in.ACL = types.ObjectCannedACLPublicRead
		}
	})
}
