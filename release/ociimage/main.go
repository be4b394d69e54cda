// Command ociimage builds aclscan's container image without a Docker
// daemon (go-containerregistry), as an OCI image tarball that docker load
// and podman load read: the static binary, the CA certificates, and a
// non-root user (65532), on an empty base, for linux/amd64 or arm64:
//
//	go run ./release/ociimage -arch amd64 -o dist/aclscan-image-amd64.tar
//
// It builds the binary itself (CGO_ENABLED=0, the product module alone).
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	arch := flag.String("arch", "amd64", "amd64 or arm64")
	out := flag.String("o", "", "the image tarball to write (default dist/aclscan-image-ARCH.tar)")
	tag := flag.String("tag", "aclscan:snapshot", "the image's reference in the tarball")
	version := flag.String("version", "snapshot", "the version the binary prints")
	certs := flag.String("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle to put in the image")
	flag.Parse()
	if *out == "" {
		*out = filepath.Join("dist", "aclscan-image-"+*arch+".tar")
	}
	if err := build(*arch, *out, *tag, *version, *certs); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}

// nonRoot is the image's user: no privileges, no shell.
const nonRoot = 65532

func build(arch, out, tag, version, certs string) error {
	dir, err := os.MkdirTemp("", "aclscan-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "aclscan")
	root, err := locals3.RepoRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", bin, "./cmd/aclscan")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOWORK=off")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build the binary: %w", err)
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	caBundle, err := os.ReadFile(certs)
	if err != nil {
		return fmt.Errorf("the CA certificates (install ca-certificates, or give -ca-certificates): %w", err)
	}
	layer, err := layerOf([]file{
		{"etc/passwd", []byte(fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", nonRoot, nonRoot)), 0o644},
		{"etc/group", []byte(fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", nonRoot)), 0o644},
		{"etc/ssl/certs/ca-certificates.crt", caBundle, 0o644},
		{"home/nonroot/.keep", []byte{}, 0o644},
		{"usr/local/bin/aclscan", binary, 0o755},
	})
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", arch
	cfg.Config.User = fmt.Sprintf("%d:%d", nonRoot, nonRoot)
	cfg.Config.WorkingDir = "/home/nonroot"
	cfg.Config.Entrypoint = []string{"/usr/local/bin/aclscan"}
	cfg.Config.Env = []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", "HOME=/home/nonroot"}
	cfg.Config.Labels = map[string]string{"org.opencontainers.image.title": "aclscan", "org.opencontainers.image.version": version,
		"org.opencontainers.image.source": "https://github.com/aclscan/aclscan"}
	cfg.Created = v1.Time{Time: time.Unix(0, 0)} // reproducible
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := tarball.WriteToFile(out, ref, img); err != nil {
		return err
	}
	fmt.Println(out)
	return nil
}

type file struct {
	path string
	data []byte
	mode int64
}

// layerOf makes one image layer of files, owned by root, dated at the
// epoch (reproducible).
func layerOf(files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range files {
		for d := filepath.Dir(f.path); d != "." && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names) // parents first
	for _, d := range names {
		h := &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: time.Unix(0, 0)}
		if d == "home/nonroot" {
			h.Uid, h.Gid = nonRoot, nonRoot // the user's own home
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		h := &tar.Header{Name: f.path, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}
