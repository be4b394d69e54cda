# aclscan: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin/aclscan
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build demo test unit integration lint local-s3 local-s3-stop bench-scan clean

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/aclscan

# Starts the local S3 (radosgw), seeds the demo bucket and scans it.
demo: build
	@scripts/local-s3 start >/dev/null
	@$(GO) run ./tools/seed demo
	@eval "$$(scripts/local-s3 env)" && $(BIN) scan s3://demo --format table

# Unit and integration tests; the integration tests start (or reuse) the local S3.
test: lint
	scripts/local-s3 start >/dev/null
	$(GO) test -race -count=1 -tags integration ./...

unit:
	$(GO) test -race -count=1 ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet -tags integration ./...

local-s3:
	scripts/local-s3 start

local-s3-stop:
	scripts/local-s3 stop

# The scan benchmark (docs/benchmarks/scan.md): strategies direct and through toxiproxy.
bench-scan: build
	scripts/bench-scan

clean:
	rm -rf bin dist
