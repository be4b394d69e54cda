package locals3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/aclscan/aclscan/internal/proc"
)

// Gateway is an extra radosgw process serving the local cluster on a port
// of its own: a test can kill and restart it (a server outage) while other
// tests keep using the main gateway. Buckets and objects are shared.
type Gateway struct {
	URL  string
	name string
	conf string
	addr string
	cmd  *exec.Cmd
	// exited is closed when cmd's process has ended.
	exited chan struct{}
}

// StartGateway starts a gateway named name (a letters-and-digits word,
// unique among running gateways) on a free local port.
func StartGateway(ctx context.Context, env Env, name string) (*Gateway, error) {
	if env.Conf == "" {
		return nil, errors.New("the local S3's environment lacks LOCAL_S3_CONF: restart it with scripts/local-s3 stop && scripts/local-s3 start")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	g := &Gateway{URL: "http://" + addr, name: name, conf: env.Conf, addr: addr}
	return g, g.Start(ctx)
}

// Start (re)starts the gateway's process and waits until it answers.
func (g *Gateway) Start(ctx context.Context) error {
	dir := filepath.Dir(g.conf)
	g.cmd = exec.Command("radosgw", "-f", "-c", g.conf, "-n", "client.rgw."+g.name,
		"--rgw-frontends", "beast endpoint="+g.addr+" tcp_nodelay=1",
		"--rgw-dns-name", "localhost", "--debug-rgw", "0/0", "--debug-ms", "0/0",
		"--log-file", filepath.Join(dir, "client.rgw."+g.name+".log"))
	proc.DieWithParent(g.cmd)
	if err := g.cmd.Start(); err != nil {
		return fmt.Errorf("start radosgw gateway %s: %w", g.name, err)
	}
	g.exited = make(chan struct{})
	go func() {
		_ = g.cmd.Wait()
		close(g.exited)
	}()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := client.Get(g.URL + "/"); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-g.exited:
			return fmt.Errorf("radosgw gateway %s exited at start (%v); see its log in %s", g.name, g.cmd.ProcessState, dir)
		case <-ctx.Done():
			g.Kill()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	g.Kill()
	return fmt.Errorf("radosgw gateway %s did not answer on %s within 30 s", g.name, g.addr)
}

// Kill stops the gateway at once (SIGKILL, as a crash would) and waits
// for its process to end.
func (g *Gateway) Kill() {
	if g.cmd == nil || g.cmd.Process == nil {
		return
	}
	_ = g.cmd.Process.Kill()
	<-g.exited
}
