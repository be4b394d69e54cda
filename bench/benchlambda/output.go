package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// original holds the published averages (ms) of the experiment.
var original = map[string]map[int]float64{
	"python-serial-boto3":  {128: 4771.45, 512: 2020.62, 1024: 1888.41, 1536: 1921.05, 2048: 1824.93, 3008: 1799.03},
	"python-aioboto3":      {128: 4792.22, 512: 1259.93, 1024: 734.59, 1536: 615.03, 2048: 682.80, 3008: 616.14},
	"python-boto3-threads": {128: 6097.20, 512: 1446.13, 1024: 707.98, 1536: 486.31, 2048: 483.95, 3008: 572.16},
}

type summary struct{ avg, p50, p95 float64 }

func stats(r cellResult) summary {
	if len(r.invokes) == 0 {
		return summary{}
	}
	s := slices.Clone(r.invokes)
	slices.Sort(s)
	var sum float64
	for _, d := range s {
		sum += d
	}
	pct := func(p float64) float64 { return s[int(math.Ceil(p*float64(len(s))))-1] }
	return summary{avg: sum / float64(len(s)), p50: pct(0.50), p95: pct(0.95)}
}

func isAclscan(name string) bool { return strings.HasPrefix(name, "aclscan-") }
func isPython(name string) bool  { return strings.HasPrefix(name, "python-") }

// best returns the lowest average among implementations matching keep.
func best(results []cellResult, mb int, keep func(string) bool) (float64, string) {
	bestAvg, bestName := 0.0, ""
	for _, r := range results {
		if r.memory != mb || r.failure != "" || !keep(r.impl.name) {
			continue
		}
		if a := stats(r).avg; bestName == "" || a < bestAvg {
			bestAvg, bestName = a, r.impl.name
		}
	}
	return bestAvg, bestName
}

func writeOutputs(o options, results []cellResult, fl floor, took time.Duration) error {
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return err
	}
	if err := writeCSV(filepath.Join(o.outDir, "lambda.csv"), results); err != nil {
		return err
	}
	if err := writeMarkdown(filepath.Join(o.outDir, "lambda.md"), o, results, fl, took); err != nil {
		return err
	}
	return writeChart(filepath.Join(o.outDir, "lambda.png"), o, results)
}

func writeCSV(path string, results []cellResult) error {
	var b strings.Builder
	b.WriteString("impl,memory_mb,invocations,avg_ms,p50_ms,p95_ms,cold_ms\n")
	for _, r := range results {
		if r.failure != "" {
			fmt.Fprintf(&b, "%s,%d,0,,,,\n", r.impl.name, r.memory)
			continue
		}
		st := stats(r)
		fmt.Fprintf(&b, "%s,%d,%d,%.1f,%.1f,%.1f,%.1f\n", r.impl.name, r.memory, len(r.invokes), st.avg, st.p50, st.p95, r.coldMS)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func cell(results []cellResult, name string, mb int) (cellResult, bool) {
	for _, r := range results {
		if r.impl.name == name && r.memory == mb {
			return r, true
		}
	}
	return cellResult{}, false
}

func writeMarkdown(path string, o options, results []cellResult, fl floor, took time.Duration) error {
	var impls []impl
	for _, r := range results {
		if !slices.ContainsFunc(impls, func(i impl) bool { return i.name == r.impl.name }) {
			impls = append(impls, r.impl)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Lambda benchmark: the original experiment, reproduced side by side\n\n")
	fmt.Fprintf(&b, "Measured %s on %s/%s, %d CPUs (shared by the functions, RGW and toxiproxy), %s; the run took %s.\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), took.Round(time.Second))
	fmt.Fprintf(&b, "Reproduce with `make bench-lambda` (%d invocations per cell; the first is the cold start).\n\n", o.invocations)
	b.WriteString("Settings, the same for every implementation: bucket `" + benchBucket + "` with exactly 100 objects on the local RGW, over HTTPS, ")
	fmt.Fprintf(&b, "behind a toxiproxy latency toxic of %d ms; each function under the AWS Lambda Runtime Interface Emulator with a cgroup CPU quota of M/1769 of one CPU and a memory limit of M MB (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE=M`). ", o.latencyMS)
	b.WriteString("Durations are the RIE's `REPORT` Duration; the RIE counts the init phase inside the first invocation's Duration, so averages use the first invocation without its `INIT REPORT` time (CloudWatch's Duration excludes init too), and the cold column is the whole first Duration.\n\n")
	fmt.Fprintf(&b, "Floor (measured through the proxy without CPU limit, medians): one ListObjectsV2 %.1f ms + one GetObjectAcl %.1f ms + one TCP/TLS connection set-up %.1f ms = **%.1f ms**. ",
		fl.listMS, fl.aclMS, fl.connectMS, fl.totalMS())
	fmt.Fprintf(&b, "What this machine can do at best (one list, then the 100 GetObjectAcl all at once on warm connections, no CPU limit, same client code): **%.1f ms**; the gap is RGW and toxiproxy serving 100 requests on the two cores the client also uses.\n\n", fl.waveMS)

	b.WriteString("## Average duration (ms), in the original's layout\n\n")
	b.WriteString("Published figures (AWS Lambda, Python 3.8, 2020s) in parentheses beside ours.\n\n| Memory (MB) |")
	for _, im := range impls {
		fmt.Fprintf(&b, " %s |", im.label)
	}
	b.WriteString(" best aclscan vs best Python |\n|---:|")
	for range impls {
		b.WriteString("---:|")
	}
	b.WriteString("---:|\n")
	for _, mb := range o.memories {
		fmt.Fprintf(&b, "| %d |", mb)
		for _, im := range impls {
			r, _ := cell(results, im.name, mb)
			text := "failed"
			switch {
			case r.failure != "" && r.failure == im.unavailable:
				text = "n/a"
			case r.failure == "":
				text = fmt.Sprintf("%.1f", stats(r).avg)
			}
			if orig, ok := original[im.name][mb]; ok {
				text += fmt.Sprintf(" (%.2f)", orig)
			}
			fmt.Fprintf(&b, " %s |", text)
		}
		ac, _ := best(results, mb, isAclscan)
		py, _ := best(results, mb, isPython)
		ratio := "-"
		if ac > 0 && py > 0 {
			ratio = fmt.Sprintf("%.1fx", py/ac)
		}
		fmt.Fprintf(&b, " %s |\n", ratio)
	}
	b.WriteString("\n")
	for _, im := range impls {
		if im.unavailable != "" {
			fmt.Fprintf(&b, "- %s: %s.\n", im.label, im.unavailable)
		}
	}
	var failures []string
	for _, r := range results {
		if r.failure != "" && r.failure != r.impl.unavailable {
			failures = append(failures, fmt.Sprintf("- %s at %d MB failed: %s", r.impl.label, r.memory, r.failure))
		}
	}
	if len(failures) > 0 {
		b.WriteString(strings.Join(failures, "\n") + "\n")
	}

	b.WriteString("\n## p50 / p95 / cold start (ms)\n\n| Memory (MB) |")
	for _, im := range impls {
		if im.unavailable == "" {
			fmt.Fprintf(&b, " %s |", im.label)
		}
	}
	b.WriteString("\n|---:|")
	for _, im := range impls {
		if im.unavailable == "" {
			b.WriteString("---:|")
		}
	}
	b.WriteString("\n")
	for _, mb := range o.memories {
		fmt.Fprintf(&b, "| %d |", mb)
		for _, im := range impls {
			if im.unavailable != "" {
				continue
			}
			r, _ := cell(results, im.name, mb)
			if r.failure != "" {
				b.WriteString(" failed |")
				continue
			}
			st := stats(r)
			fmt.Fprintf(&b, " %.0f / %.0f / %.0f |", st.p50, st.p95, r.coldMS)
		}
		b.WriteString("\n")
	}

	b.WriteString("\n## Targets\n\n")
	for _, mb := range o.memories {
		ac, acName := best(results, mb, isAclscan)
		py, pyName := best(results, mb, isPython)
		if ac == 0 || py == 0 {
			continue
		}
		verdict := "met"
		if py/ac < 10 {
			verdict = "**missed**"
		}
		fmt.Fprintf(&b, "- %d MB: best aclscan (%s) %.1f ms vs best Python (%s) %.1f ms: %.1fx (target 10x) %s.\n", mb, acName, ac, pyName, py, py/ac, verdict)
	}
	for _, mb := range o.memories {
		if mb < 1024 {
			continue
		}
		ac, acName := best(results, mb, isAclscan)
		if ac == 0 {
			continue
		}
		verdict := "met"
		if ac > 1.5*fl.totalMS() {
			verdict = "**missed**"
		}
		fmt.Fprintf(&b, "- %d MB: best aclscan (%s) %.1f ms = %.2fx the floor of %.1f ms (target at most 1.5x) %s.\n", mb, acName, ac, ac/fl.totalMS(), fl.totalMS(), verdict)
	}
	if small, name := best(results, o.memories[0], isAclscan); small > 0 {
		large := o.memories[len(o.memories)-1]
		if py, pyName := best(results, large, isPython); py > 0 {
			verdict := "met"
			if small >= py {
				verdict = "**missed**"
			}
			fmt.Fprintf(&b, "- aclscan at %d MB (%s) %.1f ms vs best Python at %d MB (%s) %.1f ms: %s.\n", o.memories[0], name, small, large, pyName, py, verdict)
		}
	}
	b.WriteString("\n![average duration against memory](lambda.png)\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// fixedTicks labels exactly the given values.
type fixedTicks []int

func (f fixedTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for _, v := range f {
		if x := float64(v); x >= lo && x <= hi {
			ticks = append(ticks, plot.Tick{Value: x, Label: fmt.Sprint(v)})
		}
	}
	return ticks
}

func writeChart(path string, o options, results []cellResult) error {
	p := plot.New()
	p.Title.Text = "100 x GetObjectAcl per invocation, ~18 ms round trips (average of invocations)"
	p.X.Label.Text = "Lambda memory size (MB)"
	p.Y.Label.Text = "average duration (ms, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = fixedTicks{20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 30000}
	p.X.Tick.Marker = fixedTicks(o.memories)
	// Headroom above the highest line keeps the legend (top right) clear.
	p.Y.Max = 30000
	p.Y.Min = 80
	p.Legend.Top = true
	p.Legend.Left = false
	p.Add(plotter.NewGrid())
	palette := []color.Color{
		color.RGBA{0x1b, 0x9e, 0x77, 255}, color.RGBA{0x00, 0x60, 0x30, 255}, color.RGBA{0x66, 0xa6, 0x1e, 255},
		color.RGBA{0xd9, 0x5f, 0x02, 255}, color.RGBA{0x75, 0x70, 0xb3, 255}, color.RGBA{0xe7, 0x29, 0x8a, 255},
		color.RGBA{0x66, 0x66, 0x66, 255},
	}
	var names []string
	for _, r := range results {
		if r.failure == "" && !slices.Contains(names, r.impl.name) {
			names = append(names, r.impl.name)
		}
	}
	for i, name := range names {
		var pts plotter.XYs
		label := name
		for _, mb := range o.memories {
			if r, ok := cell(results, name, mb); ok && r.failure == "" {
				pts = append(pts, plotter.XY{X: float64(mb), Y: stats(r).avg})
				label = r.impl.label
			}
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		c := palette[i%len(palette)]
		line.Color, points.Color = c, c
		line.Width = vg.Points(1.5)
		points.Shape = draw.CircleGlyph{}
		if !isAclscan(name) {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(line, points)
		p.Legend.Add(label, line, points)
	}
	return p.Save(9*vg.Inch, 5.5*vg.Inch, path)
}

// replot redraws the chart from a results CSV (averages only).
func replot(o options, csvPath, pngPath string) error {
	data, err := os.ReadFile(csvPath)
	if err != nil {
		return err
	}
	labels := map[string]impl{}
	for _, im := range implementations(o) {
		labels[im.name] = im
	}
	var results []cellResult
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(line, ",")
		if i == 0 || len(f) < 4 {
			continue
		}
		var mb int
		var avg float64
		if _, err := fmt.Sscan(f[1], &mb); err != nil {
			return fmt.Errorf("%s line %d: %v", csvPath, i+1, err)
		}
		r := cellResult{impl: labels[f[0]], memory: mb}
		r.impl.name = f[0]
		if _, err := fmt.Sscan(f[3], &avg); err != nil {
			r.failure = "no result"
		} else {
			r.invokes = []float64{avg}
		}
		results = append(results, r)
	}
	return writeChart(pngPath, o, results)
}
