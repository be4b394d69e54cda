# aclscan: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin/aclscan
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build demo test test-long test-compat unit integration lint validate-deploy local-s3 local-s3-stop bench-scan bench-fanout bench-exposure bench-watch bench-watch-lambda bench-accounts bench-inventory bench-fix release-snapshot bench-scale bench-scale-quick lambda bench-lambda bench-lambda-quick fuzz soak clean

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/aclscan

# Starts the local S3 (radosgw), seeds the demo bucket and scans it.
demo: build
	@scripts/local-s3 start >/dev/null
	@$(GO) run ./tools/seed demo
	@eval "$$(scripts/local-s3 env)" && $(BIN) scan --all-buckets --include 'demo*' --verify-public --format table

# Every package of the product and of its benchmark module (bench/, with
# the fault tests); see go.work.
PKGS := ./... ./bench/... ./release/...

# Unit and integration tests; the integration tests start (or reuse) the
# local S3. test-long holds the soak test (a minute of scanning for leaks)
# and the network fault tests (toxiproxy: resets, stalls, cut answers,
# restarts; 3 to 4 minutes, mostly waiting out injected faults).
LONG_PKGS := ./bench/internal/soak ./bench/faults
# The longest test packages are started first: with two at a time, the
# long pole then overlaps the many short ones instead of running last.
SLOW_FIRST := \/bench\/internal\/engines$$|\/cmd\/aclscan$$|\/scan$$
test: lint
	scripts/local-s3 start >/dev/null
	scripts/need-chromium
	npm ci --prefix report/testdata/duckdb --silent --no-audit --no-fund
	$(MAKE) --no-print-directory validate-deploy
	$(GO) test -race -count=1 -tags integration $$($(GO) list -tags integration $(PKGS) | grep -v -x -F "$$($(GO) list -tags integration $(LONG_PKGS))" \
	  | awk '/$(SLOW_FIRST)/ { print; next } { rest = rest $$0 "\n" } END { printf "%s", rest }')

# The tests too long for every run (CI runs them too).
test-long:
	scripts/local-s3 start >/dev/null
	$(GO) test -race -count=1 -tags integration $(LONG_PKGS)

# aclscan against other S3 servers (bench/compat; servers built once into bin/compat).
test-compat:
	scripts/compat

unit:
	$(GO) test -race -count=1 $(PKGS)

# The state machine definitions, against the ASL schema (asl-validator,
# npm); deploy/template_test.go checks the template's roles against them.
validate-deploy:
	npm ci --prefix deploy --silent --no-audit --no-fund
	cd deploy && npx --no-install asl-validator --json-path statemachines/listing.asl.json --json-path statemachines/inventory.asl.json --json-path statemachines/accounts.asl.json

lint:
	@scripts/check-tracked
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet -tags integration $(PKGS)
	@# The product module alone (as go install sees it) builds and needs nothing of bench/.
	GOWORK=off $(GO) build ./...

local-s3:
	scripts/local-s3 start

local-s3-stop:
	scripts/local-s3 stop

# Every fuzz test for FUZZTIME each (default 60s); see docs/reliability.md.
fuzz:
	scripts/fuzz

# The soak run (docs/benchmarks/soak.md): scans for DURATION (default 5m)
# through toxiproxy with connections reset every second.
DURATION ?= 5m
soak:
	scripts/local-s3 start >/dev/null
	$(GO) run ./bench/soak -duration $(DURATION) -o docs/benchmarks/soak.md

# The scan benchmark (docs/benchmarks/scan.md): strategies direct and through toxiproxy.
bench-scan: build
	scripts/bench-scan

# aclscan inventory on a generated 10,000,000-row report, CSV and Parquet
# (docs/benchmarks/inventory.md); the reports are kept in /tmp for the next run.
bench-inventory: build
	$(GO) run ./bench/benchinventory -runs 3

# aclscan fix --apply and undo on 5,000 public objects (docs/benchmarks/fix.md).
bench-fix: build
	@scripts/local-s3 start >/dev/null
	$(GO) run ./bench/benchfix -runs 3

# The release, as a snapshot (nothing published): archives for linux,
# darwin and windows x amd64/arm64 with checksums (GoReleaser, installed
# into bin/tools on first use), and the container image for amd64 and arm64
# as OCI tarballs (release/ociimage: no Docker daemon), all in dist/.
GORELEASER := bin/tools/goreleaser
$(GORELEASER):
	GOBIN=$(CURDIR)/bin/tools GOWORK=off $(GO) install github.com/goreleaser/goreleaser/v2@v2.15.1

release-snapshot: $(GORELEASER)
	$(GORELEASER) release --snapshot --clean
	$(GO) run ./release/ociimage -arch amd64 -o dist/aclscan-image-amd64.tar
	$(GO) run ./release/ociimage -arch arm64 -o dist/aclscan-image-arm64.tar
	cd dist && sha256sum aclscan-image-*.tar >> checksums.txt && sha256sum -c checksums.txt --quiet

# One child of a fan-out (Distributed Map batch from a listing or an
# inventory, a Batch Operations task) under the emulator at 1,024 MB
# (docs/benchmarks/fanout.md; docs/scale-out.md builds on it).
bench-fanout:
	@scripts/local-s3 start >/dev/null
	$(GO) run ./bench/benchfanout -runs 3

# What the bucket's context and --verify-public cost (docs/benchmarks/exposure.md).
# aclscan watch against radosgw's push: latency, a 10,000-upload burst.
bench-watch:
	$(GO) run ./bench/benchwatch

# The watch function under the Lambda emulator at 128/256/512 MB: time per
# SQS batch of ten events and the cost per million events.
bench-watch-lambda:
	$(GO) run ./bench/benchwatch -lambda

# A run over accounts (radosgw tenants entered through STS roles):
# accounts per minute and AssumeRole calls per account.
bench-accounts:
	$(GO) run ./bench/benchaccounts

bench-exposure:
	@scripts/local-s3 start >/dev/null
	$(GO) run ./bench/benchexposure -runs 5

# The throughput benchmark (docs/benchmarks/scale.md): 100,000 objects,
# aclscan against RGW's ceiling and three peers, latency, listing,
# throttling. ARGS=-million adds the 1,000,000-object memory run.
bench-scale:
	scripts/bench-scale $(ARGS)

# A smoke run of the same harness on 5,000 objects (results in /tmp).
bench-scale-quick:
	scripts/bench-scale -quick

# The Lambda function: bootstrap + deployment zip for provided.al2023, both architectures.
LAMBDA_ARCHS := amd64 arm64
lambda:
	@for arch in $(LAMBDA_ARCHS); do \
	  mkdir -p dist/linux-$$arch && \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -tags lambda.norpc -trimpath \
	    -ldflags "-s -w -X main.version=$(VERSION)" -o dist/linux-$$arch/bootstrap ./cmd/aclscan-lambda && \
	  $(GO) run ./tools/lambdazip -o dist/aclscan-lambda-linux-$$arch.zip dist/linux-$$arch/bootstrap && \
	  echo "dist/aclscan-lambda-linux-$$arch.zip" || exit 1; \
	done

# The Lambda benchmark (docs/benchmarks/lambda.md): every implementation under
# the Runtime Interface Emulator, CPU and memory limited like Lambda sizes.
bench-lambda: lambda
	scripts/bench-lambda

# A smoke run of the same harness (CI): two memory sizes, a few invocations.
bench-lambda-quick: lambda
	scripts/bench-lambda --quick

clean:
	rm -rf bin dist
