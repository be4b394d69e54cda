// Command benchlambda reproduces the original Lambda experiment locally and
// side by side: every implementation runs under the AWS Lambda Runtime
// Interface Emulator (RIE), its process held to the CPU share and memory
// of each Lambda size by cgroups, against the local RGW over HTTPS behind a
// toxiproxy latency toxic, on the same 100-object bucket. Durations come
// from the RIE's REPORT lines, as the original read them from CloudWatch.
//
// Run it with `make bench-lambda` (scripts/bench-lambda prepares the tools).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

type options struct {
	repo        string
	rie         string
	toxiproxy   string
	proxyPort   int
	latencyMS   int
	memories    []int
	invocations int
	impls       []string
	outDir      string
	python      string
	quick       bool
	funcEnv     []string
}

type envList []string

func (e *envList) String() string     { return strings.Join(*e, " ") }
func (e *envList) Set(v string) error { *e = append(*e, v); return nil }

func main() {
	var o options
	var memories, impls string
	flag.StringVar(&o.rie, "rie", "bin/tools/aws-lambda-rie", "Runtime Interface Emulator binary")
	flag.StringVar(&o.toxiproxy, "toxiproxy", "http://127.0.0.1:8474", "toxiproxy API")
	flag.IntVar(&o.proxyPort, "proxy-port", 7491, "port of the HTTPS latency proxy")
	flag.IntVar(&o.latencyMS, "latency-ms", 17, "latency toxic (ms); ~18 ms per GetObjectAcl round trip")
	flag.StringVar(&memories, "memory", "128,512,1024,1536,2048,3008", "Lambda memory sizes (MB)")
	flag.IntVar(&o.invocations, "invocations", 100, "invocations per cell (the first is the cold start)")
	flag.StringVar(&impls, "impl", "", "comma list of implementations (default: all)")
	flag.StringVar(&o.outDir, "out", "docs/benchmarks", "where lambda.csv, lambda.md and lambda.png go")
	flag.StringVar(&o.python, "python", "python3", "Python interpreter with boto3")
	flag.BoolVar(&o.quick, "quick", false, "smoke run: 2 memory sizes, 5 invocations, results under /tmp")
	replotCSV := flag.String("replot", "", "only redraw lambda.png in -out from this lambda.csv")
	var extraEnv envList
	flag.Var(&extraEnv, "env", "KEY=VALUE added to every function's environment (repeatable), e.g. -env CONCURRENCY=32")
	flag.Parse()
	for _, m := range strings.Split(memories, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(m))
		if err != nil || n < 128 || n > 10240 {
			fatalf("bad memory size %q", m)
		}
		o.memories = append(o.memories, n)
	}
	o.funcEnv = extraEnv
	if impls != "" {
		o.impls = strings.Split(impls, ",")
	}
	if o.quick {
		o.memories = []int{128, 1024}
		o.invocations = 5
		o.outDir = filepath.Join(os.TempDir(), "aclscan-bench-lambda-quick")
	}
	var err error
	if o.repo, err = os.Getwd(); err != nil {
		fatalf("%v", err)
	}
	if *replotCSV != "" {
		if err := replot(o, *replotCSV, filepath.Join(o.outDir, "lambda.png")); err != nil {
			fatalf("%v", err)
		}
		return
	}
	if err := run(context.Background(), o); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchlambda: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}
