// Package toxiproxy drives a Shopify toxiproxy server through its HTTP API,
// for the benchmarks (and fault tests) that put latency or faults between
// aclscan and the local S3.
package toxiproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// LatencyProxy (re)creates proxy name on listen, forwarding to upstream,
// with a latency toxic of ms milliseconds on the downstream direction:
// about ms added to each request's round trip on a kept-alive connection.
func LatencyProxy(api, name, listen, upstream string, ms int) error {
	req, err := http.NewRequest(http.MethodDelete, api+"/proxies/"+name, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("toxiproxy API at %s: %w (is the toxiproxy server running?)", api, err)
	}
	resp.Body.Close()
	if err := postJSON(api+"/proxies", map[string]any{"name": name, "listen": listen, "upstream": upstream, "enabled": true}); err != nil {
		return err
	}
	return postJSON(api+"/proxies/"+name+"/toxics", map[string]any{
		"name": "latency", "type": "latency", "stream": "downstream", "toxicity": 1.0,
		"attributes": map[string]any{"latency": ms, "jitter": 0},
	})
}

func postJSON(url string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}

// RoundTrip times plain HTTP requests to url on one kept-alive connection
// and returns the median: the per-request floor any client pays.
func RoundTrip(url string) (time.Duration, error) {
	client := &http.Client{}
	var times []time.Duration
	for i := 0; i < 21; i++ {
		start := time.Now()
		resp, err := client.Get(url + "/")
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if i > 0 { // the first pays the connection set-up
			times = append(times, time.Since(start))
		}
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}
