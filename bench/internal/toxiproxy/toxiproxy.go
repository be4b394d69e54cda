// Package toxiproxy runs and drives a Shopify toxiproxy server (through
// its official Go client), for the benchmarks and fault tests that put
// latency or network faults between aclscan and the local S3.
package toxiproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	client "github.com/Shopify/toxiproxy/v2/client"
	"github.com/aclscan/aclscan/internal/proc"
)

// Version is the toxiproxy release the scripts and tests build.
const Version = "v2.5.0"

// Install builds the toxiproxy server into dir (as dir/server, where the
// scripts put it too) unless it is there already, and returns its path.
// The binary is built aside and renamed into place, so test packages
// installing it at the same time never see half a file.
func Install(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "server")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(dir, ".install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/Shopify/toxiproxy/v2/cmd/server@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build toxiproxy %s: %w: %s", Version, err, strings.TrimSpace(string(out)))
	}
	if err := os.Rename(filepath.Join(tmp, "server"), bin); err != nil {
		return "", err
	}
	return bin, nil
}

// Server is a toxiproxy server process.
type Server struct {
	*client.Client
	API string // http://host:port of its API
	cmd *exec.Cmd
}

// Start runs the server binary on a free local port and waits for its API.
func Start(ctx context.Context, bin string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	proc.DieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start toxiproxy: %w", err)
	}
	s := &Server{API: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	s.Client = client.NewClient(s.API)
	for {
		if _, err := s.Proxies(); err == nil {
			return s, nil
		}
		select {
		case <-ctx.Done():
			s.Stop()
			return nil, fmt.Errorf("toxiproxy did not answer on %s: %w", s.API, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop kills the server.
func (s *Server) Stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// NewProxy creates proxy name on a free local port, forwarding to
// upstream (host:port); Listen holds the address it got.
func (s *Server) NewProxy(name, upstream string) (*client.Proxy, error) {
	p, err := s.CreateProxy(name, "127.0.0.1:0", upstream)
	if err != nil {
		return nil, fmt.Errorf("create toxiproxy proxy %s: %w", name, err)
	}
	return p, nil
}

// Flap adds a toxic to p every period for on, then removes it, until ctx
// ends: faults that come and go while a scan runs. It returns when the
// toxic is removed for the last time, with the first API error if any.
func Flap(ctx context.Context, p *client.Proxy, period, on time.Duration, name, typ string, toxicity float32, attrs client.Attributes) error {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if _, err := p.AddToxic(name, typ, "downstream", toxicity, attrs); err != nil {
			return fmt.Errorf("add toxic %s: %w", name, err)
		}
		time.Sleep(on)
		if err := p.RemoveToxic(name); err != nil {
			return fmt.Errorf("remove toxic %s: %w", name, err)
		}
	}
}

// LatencyProxy (re)creates proxy name on listen, forwarding to upstream,
// with a latency toxic of ms milliseconds on the downstream direction:
// about ms added to each request's round trip on a kept-alive connection.
func LatencyProxy(api, name, listen, upstream string, ms int) error {
	c := client.NewClient(api)
	if old, err := c.Proxy(name); err == nil {
		if err := old.Delete(); err != nil {
			return err
		}
	} else if urlErr := (*url.Error)(nil); errors.As(err, &urlErr) {
		return fmt.Errorf("toxiproxy API at %s: %w (is the toxiproxy server running?)", api, err)
	}
	p, err := c.CreateProxy(name, listen, upstream)
	if err != nil {
		return err
	}
	_, err = p.AddToxic("latency", "latency", "downstream", 1, client.Attributes{"latency": ms, "jitter": 0})
	return err
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
