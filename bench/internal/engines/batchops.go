package engines

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
)

// Task is one object of a Batch Operations manifest.
type Task struct {
	Bucket, Key, VersionID string
}

// TaskResult is a task's final line of the completion report.
type TaskResult struct {
	Task
	Code, Message string
	// Invocations counts the invocations it took (redrives included).
	Invocations int
}

// BatchOperationsJob invokes the function once per task, as an "Invoke
// AWS Lambda function" job does (schema 1.0: bucket ARN; 2.0: bucket
// name), keys URL-encoded; a TemporaryFailure is redriven, up to
// MaxRedrives times, after the other tasks.
type BatchOperationsJob struct {
	Emulators     []*Emulator
	SchemaVersion string
	MaxRedrives   int
}

// Run runs every task and returns their final results, in task order.
func (j *BatchOperationsJob) Run(ctx context.Context, tasks []Task) ([]TaskResult, error) {
	results := make([]TaskResult, len(tasks))
	for i, t := range tasks {
		results[i].Task = t
	}
	pending := make([]int, len(tasks))
	for i := range pending {
		pending[i] = i
	}
	for round := 0; len(pending) > 0 && round <= j.MaxRedrives; round++ {
		next := make(chan int)
		var mu sync.Mutex
		var again []int
		var wg sync.WaitGroup
		for _, em := range j.Emulators {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					code, msg := j.invoke(ctx, em, i, tasks[i])
					mu.Lock()
					results[i].Code, results[i].Message = code, msg
					results[i].Invocations++
					if code == "TemporaryFailure" {
						again = append(again, i)
					}
					mu.Unlock()
				}
			}()
		}
		for _, i := range pending {
			next <- i
		}
		close(next)
		wg.Wait()
		pending = again
	}
	return results, ctx.Err()
}

func (j *BatchOperationsJob) invoke(ctx context.Context, em *Emulator, i int, t Task) (code, msg string) {
	task := map[string]string{"taskId": fmt.Sprintf("task-%d", i), "s3Key": url.QueryEscape(t.Key), "s3VersionId": t.VersionID}
	if j.SchemaVersion == "2.0" {
		task["s3Bucket"] = t.Bucket
	} else {
		task["s3BucketArn"] = "arn:aws:s3:::" + t.Bucket
	}
	event, _ := json.Marshal(map[string]any{
		"invocationSchemaVersion": j.SchemaVersion, "invocationId": fmt.Sprintf("invocation-%d", i),
		"job": map[string]string{"id": "job-1"}, "tasks": []any{task},
	})
	out, err := em.Invoke(ctx, event)
	if err != nil {
		// A function error or a dead environment: the job counts the task
		// failed for this attempt and redrives it.
		em.Kill()
		if serr := em.Start(); serr != nil {
			return "PermanentFailure", serr.Error()
		}
		return "TemporaryFailure", err.Error()
	}
	var resp struct {
		InvocationID       string `json:"invocationId"`
		TreatMissingKeysAs string `json:"treatMissingKeysAs"`
		Results            []struct {
			TaskID       string `json:"taskId"`
			ResultCode   string `json:"resultCode"`
			ResultString string `json:"resultString"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return "PermanentFailure", "Invalid JSON returned in Lambda payload: " + err.Error()
	}
	for _, r := range resp.Results {
		if r.TaskID == task["taskId"] {
			return r.ResultCode, r.ResultString
		}
	}
	if resp.TreatMissingKeysAs == "" {
		return "TemporaryFailure", "no result for the task" // the documented default
	}
	return resp.TreatMissingKeysAs, "no result for the task"
}
