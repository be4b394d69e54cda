package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aclscan/aclscan/scan"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestSettingsFromEnv(t *testing.T) {
	s, err := settingsFromEnv(env(map[string]string{
		"BUCKET_NAME": "my-bucket", "PREFIX": "logs/", "STRATEGY": "serial", "CONCURRENCY": "7", "ALL_VERSIONS": "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if s.bucket != "my-bucket" || s.prefix != "logs/" || s.strategy != scan.Serial || s.concurrency != 7 || !s.allVersions {
		t.Errorf("settings = %+v", s)
	}
	for name, vars := range map[string]map[string]string{
		"bad strategy":    {"STRATEGY": "fast"},
		"bad concurrency": {"CONCURRENCY": "-1"},
		"bad bool":        {"ALL_VERSIONS": "maybe"},
		"bad bucket":      {"BUCKET_NAME": "No Spaces"},
	} {
		if _, err := settingsFromEnv(env(vars)); err == nil {
			t.Errorf("%s: accepted %v", name, vars)
		}
	}
}

func TestDefaultConcurrencyFollowsMemory(t *testing.T) {
	for mem, want := range map[string]int{"128": 32, "512": 32, "1024": 64, "3008": 64, "": 64, "junk": 64} {
		if got := defaultConcurrency(mem); got != want {
			t.Errorf("memory %q: concurrency %d, want %d", mem, got, want)
		}
	}
}

// Bad events are refused before any request (the client is never used).
func TestHandlerRejectsBadEvents(t *testing.T) {
	h := &handler{settings: settings{concurrency: 8}}
	for _, tc := range []struct {
		ev   Event
		want string
	}{
		{Event{}, "no bucket"},
		{Event{Bucket: "ok-bucket", Strategy: "fast"}, "unknown strategy"},
		{Event{Bucket: "ok-bucket", Concurrency: -2}, "concurrency must be positive"},
		{Event{Bucket: "x"}, "invalid bucket name"},
	} {
		if _, err := h.handle(context.Background(), tc.ev); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("event %+v: err %v, want %q", tc.ev, err, tc.want)
		}
	}
}
