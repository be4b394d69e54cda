package settings

import (
	"errors"
	"testing"
	"time"

	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
)

func TestBuild(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		edit  func(*Scan)
		check func(t *testing.T, cfg scan.Config, opts s3access.Options)
	}{
		{"target split", func(s *Scan) { s.Target = "s3://my-bucket/logs/" }, func(t *testing.T, cfg scan.Config, _ s3access.Options) {
			if cfg.Bucket != "my-bucket" || cfg.Prefix != "logs/" {
				t.Errorf("bucket %q prefix %q", cfg.Bucket, cfg.Prefix)
			}
		}},
		{"pool: a connection per worker", func(s *Scan) { s.Concurrency = 12 }, func(t *testing.T, cfg scan.Config, opts s3access.Options) {
			if cfg.Strategy != scan.Pool || cfg.Concurrency != 12 || opts.Connections != 12 {
				t.Errorf("strategy %v, concurrency %d, connections %d", cfg.Strategy, cfg.Concurrency, opts.Connections)
			}
		}},
		{"serial: one connection", func(s *Scan) { s.Strategy = "serial" }, func(t *testing.T, cfg scan.Config, opts s3access.Options) {
			if cfg.Strategy != scan.Serial || opts.Connections != 1 {
				t.Errorf("strategy %v, connections %d", cfg.Strategy, opts.Connections)
			}
		}},
		{"all: no limit", func(s *Scan) { s.Strategy = "all" }, func(t *testing.T, _ scan.Config, opts s3access.Options) {
			if opts.Connections != -1 {
				t.Errorf("connections %d, want -1 (no limit)", opts.Connections)
			}
		}},
		{"outage wait 0 stops at once", func(s *Scan) { s.OutageWait = 0 }, func(t *testing.T, cfg scan.Config, _ s3access.Options) {
			if cfg.OutageWait >= 0 {
				t.Errorf("engine outage wait %v, want negative (stop at once)", cfg.OutageWait)
			}
		}},
		{"outage wait kept", func(s *Scan) { s.OutageWait = 5 * time.Second }, func(t *testing.T, cfg scan.Config, _ s3access.Options) {
			if cfg.OutageWait != 5*time.Second {
				t.Errorf("outage wait %v", cfg.OutageWait)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Defaults()
			s.Bucket = "b-default"
			tc.edit(&s)
			cfg, opts, err := s.Build()
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cfg, opts)
		})
	}
}

// Each problem names the setting at fault, for the shell to spell.
func TestBuildRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		edit    func(*Scan)
		setting s3access.Setting
	}{
		{"strategy", func(s *Scan) { s.Strategy = "fast" }, Strategy},
		{"concurrency", func(s *Scan) { s.Concurrency = 0 }, s3access.SettingConcurrency},
		{"list concurrency", func(s *Scan) { s.ListConcurrency = -1 }, ListConcurrency},
		{"page size", func(s *Scan) { s.PageSize = 1001 }, PageSize},
		{"attempts", func(s *Scan) { s.S3.MaxAttempts = 0 }, MaxAttempts},
		{"timeout", func(s *Scan) { s.S3.RequestTimeout = -time.Second }, Timeout},
		{"outage wait", func(s *Scan) { s.OutageWait = -time.Second }, OutageWait},
		{"throttling", func(s *Scan) { s.S3.Throttling = "fast" }, s3access.SettingThrottling},
		{"bucket", func(s *Scan) { s.Bucket = "No Spaces" }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Defaults()
			s.Bucket = "b-default"
			tc.edit(&s)
			_, _, err := s.Build()
			var usage *s3access.UsageError
			if !errors.As(err, &usage) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			if usage.Setting != tc.setting {
				t.Errorf("setting %q, want %q (%v)", usage.Setting, tc.setting, err)
			}
		})
	}
}
