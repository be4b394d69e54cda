package main

import (
	"archive/tar"
	"io"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The image reads back as an OCI image: a non-root user, the binary as
// entrypoint, the CA certificates, for the asked architecture.
func TestImage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "image.tar")
	if err := build(runtime.GOARCH, out, "aclscan:test", "test", "/etc/ssl/certs/ca-certificates.crt"); err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "65532:65532" || len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/usr/local/bin/aclscan" ||
		cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("config: user %q entrypoint %v %s/%s", cfg.Config.User, cfg.Config.Entrypoint, cfg.OS, cfg.Architecture)
	}
	files := map[string]int64{}
	tr := tar.NewReader(mutate.Extract(img))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = h.Size
	}
	for _, want := range []string{"usr/local/bin/aclscan", "etc/ssl/certs/ca-certificates.crt", "etc/passwd"} {
		if files[want] == 0 {
			t.Errorf("the image lacks %s (files: %v)", want, files)
		}
	}
}
