package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

func (rep *report) find(section, prefix string) *series {
	for _, s := range rep.series {
		if s.section == section && strings.HasPrefix(s.name, prefix) {
			return s
		}
	}
	return nil
}

func (rep *report) sectionSeries(section string) []*series {
	var out []*series
	for _, s := range rep.series {
		if s.section == section {
			out = append(out, s)
		}
	}
	return out
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// write produces scale.md, scale.csv and the charts.
func (rep *report) write() error {
	o := rep.opts
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return err
	}
	var csv strings.Builder
	csv.WriteString("section,client,objects,runs,failures,median_ms,objects_per_s,cpu_us_per_object,peak_rss_mib,retries_per_key,forwarded_rps,requests\n")
	for _, s := range rep.series {
		fmt.Fprintf(&csv, "%s,%q,%d,%d,%d,%.0f,%.0f,%.1f,%.1f,%.3f,%.0f,%.0f\n", s.section, s.name, s.objects, len(s.samples), s.fails,
			s.wallMS(), s.rate(), s.cpuPerObjectUS(), s.rssMiB(), s.extra["retries_per_key"], s.extra["forwarded_rps"], s.extra["requests"])
	}
	if err := os.WriteFile(o.outDir+"/scale.csv", []byte(csv.String()), 0o644); err != nil {
		return err
	}

	var md strings.Builder
	md.WriteString("# Throughput benchmark: 100,000 objects\n\n")
	fmt.Fprintf(&md, "Measured %s on %s/%s, %d CPUs, %s, by `make bench-scale` (`go run ./bench/benchscale -runs %d -peer-runs %d`).\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), o.runs, o.peerRuns)
	fmt.Fprintf(&md, "Bucket `scale-%d`: %d empty private objects over 100 prefixes (`p000/obj-0000000` ...), seeded once and kept.\n", o.objects, o.objects)
	fmt.Fprintf(&md, "Every figure is the median of the runs, interleaved across clients; every client runs %d requests in flight. RGW (and toxiproxy) share the same 2 cores with the client:\n", o.workers)
	md.WriteString("a client's CPU is CPU the server does not get. CPU and peak RSS come from the client process's rusage (what `/usr/bin/time -v` reports).\n\n")

	ceiling := rep.find("direct", "RGW ceiling")
	aclscan := rep.find("direct", "aclscan")
	boto3 := rep.find("direct", "boto3")
	floor := rep.find("direct", "floor client")
	fmt.Fprintf(&md, "## 1. Directly against RGW (HTTP, loopback)\n\n")
	md.WriteString("| client | median time | objects/s | of RGW's ceiling | client CPU per object (user + system) | of which user | CPU vs aclscan | CPU vs floor | peak RSS | failed runs |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range rep.sectionSeries("direct") {
		of, cpu, user, vs, vsFloor, rss := "-", "-", "-", "-", "-", "-"
		if ceiling != nil && ceiling.rate() > 0 && s != ceiling {
			of = fmt.Sprintf("%.0f%%", 100*s.rate()/ceiling.rate())
		}
		if s != ceiling {
			cpu = fmt.Sprintf("%.0f µs", s.cpuPerObjectUS())
			user = fmt.Sprintf("%.0f µs", s.userPerObjectUS())
			rss = fmt.Sprintf("%.0f MiB", s.rssMiB())
			if aclscan != nil && aclscan.cpuPerObjectUS() > 0 {
				vs = fmt.Sprintf("%.1fx", s.cpuPerObjectUS()/aclscan.cpuPerObjectUS())
			}
			if floor != nil && floor.cpuPerObjectUS() > 0 {
				vsFloor = fmt.Sprintf("%.1fx", s.cpuPerObjectUS()/floor.cpuPerObjectUS())
			}
		}
		fmt.Fprintf(&md, "| %s | %.0f ms | %.0f | %s | %s | %s | %s | %s | %s | %d |\n", s.name, s.wallMS(), s.rate(), of, cpu, user, vs, vsFloor, rss, s.fails)
	}
	fmt.Fprintf(&md, "\nThe ceiling client lists the keys before its clock starts, then only signs and sends one request per key from %d workers\n(without asking for gzip, which radosgw would spend CPU on) and discards the answers: RGW's GetObjectAcl rate with the least client work this harness can build.\n", o.workers)
	md.WriteString("The floor client (`bench/benchscale/floor.go`) is the least work a whole scan can cost: it lists and fetches over raw kept-alive sockets, one per worker,\nsigns every request by hand (deriving the signing key each time), writes it with fmt and skips each answer by its Content-Length without parsing it;\nno retries, no checks beyond the status, no report.\n\n")
	if ceiling != nil && aclscan != nil && ceiling.rate() > 0 {
		fmt.Fprintf(&md, "- Target, at least 90%% of RGW's ceiling: aclscan reaches %.0f%% (%.0f of %.0f objects/s): %s.\n", 100*aclscan.rate()/ceiling.rate(), aclscan.rate(), ceiling.rate(), verdict(aclscan.rate() >= 0.9*ceiling.rate()))
	}
	if boto3 != nil && aclscan != nil && len(boto3.samples) > 0 {
		ratio := boto3.cpuPerObjectUS() / aclscan.cpuPerObjectUS()
		fmt.Fprintf(&md, "- Target, client CPU per GetObjectAcl at most 1/10 of boto3's: aclscan %.0f µs, boto3 %.0f µs, 1/%.1f: %s.\n", aclscan.cpuPerObjectUS(), boto3.cpuPerObjectUS(), ratio, verdict(ratio >= 10))
	}
	if aclscan != nil && len(aclscan.samples) > 0 {
		fmt.Fprintf(&md, "- Target, client user-space CPU per object at most 50 µs: %.0f µs: %s.\n", aclscan.userPerObjectUS(), verdict(aclscan.userPerObjectUS() <= 50))
		fmt.Fprintf(&md, "- Target, client CPU per object (user + system) at most 100 µs: %.0f µs: %s.\n", aclscan.cpuPerObjectUS(), verdict(aclscan.cpuPerObjectUS() <= 100))
		if floor != nil && floor.cpuPerObjectUS() > 0 {
			fmt.Fprintf(&md, "- aclscan against the floor client, same run: %.2fx its CPU per object (user %.0f vs %.0f µs), %.2fx its time.\n",
				aclscan.cpuPerObjectUS()/floor.cpuPerObjectUS(), aclscan.userPerObjectUS(), floor.userPerObjectUS(), aclscan.wallMS()/floor.wallMS())
		}
	}
	md.WriteString("\n![objects per second and client CPU per object](scale.png)\n\n")

	if latent := rep.find("latency", "aclscan"); latent != nil {
		bound := latent.extra["bound"]
		fmt.Fprintf(&md, "## 2. Through toxiproxy, ~%.1f ms round trips\n\n", ms(rep.rtt))
		md.WriteString("| client | objects | median time | objects/s | bound concurrency/RTT | of that bound | failed runs |\n|---|---:|---:|---:|---:|---:|---:|\n")
		fmt.Fprintf(&md, "| aclscan x%d | %d | %.0f ms | %.0f | %.0f | %.0f%% | %d |\n\n", o.workers, latent.objects, latent.wallMS(), latent.rate(), bound, 100*latent.rate()/bound, latent.fails)
		if ceiling != nil {
			fmt.Fprintf(&md, "The other bound is the server: RGW's ceiling above is %.0f objects/s without the proxy, and toxiproxy itself takes CPU from the same 2 cores.\n\n", ceiling.rate())
		}
	}

	one, parts := rep.find("listing", "one chain"), rep.find("listing", "partitioned")
	if one != nil && parts != nil {
		fmt.Fprintf(&md, "## 3. Listing alone, ~%.1f ms round trips (%d keys, 1,000 per page)\n\n", ms(rep.rtt), o.objects)
		md.WriteString("ACL fetches answered at once in the process (scan engine with a no-op GetObjectAcl), so the time is the listing's.\n\n")
		md.WriteString("| listing | median time | keys/s | list requests | failed runs |\n|---|---:|---:|---:|---:|\n")
		oracle := rep.find("listing", "oracle")
		rows := []*series{one, parts}
		if oracle != nil {
			rows = append(rows, oracle)
		}
		for _, s := range rows {
			fmt.Fprintf(&md, "| %s | %.0f ms | %.0f | %.0f | %d |\n", s.name, s.wallMS(), s.rate(), s.extra["requests"], s.fails)
		}
		if parts.wallMS() > 0 {
			speed := one.wallMS() / parts.wallMS()
			fmt.Fprintf(&md, "\n- Target, partitioned at least 8x faster than one chain: %.1fx: %s.\n", speed, verdict(speed >= 8))
			if oracle != nil && oracle.wallMS() > 0 {
				fmt.Fprintf(&md, "- This machine's bound, an oracle partition knowing the bucket's 100 prefixes (its requests include each prefix's scan reading the bucket's context: four requests per prefix): %.1fx one chain; aclscan's partitioning gets %.0f%% of it.\n", one.wallMS()/oracle.wallMS(), 100*oracle.wallMS()/parts.wallMS())
			}
			md.WriteString("\n")
		}
	}

	if th := rep.sectionSeries("throttling"); len(th) > 0 {
		fmt.Fprintf(&md, "## 4. Throttling: %.0f requests/s allowed, 503 SlowDown beyond, 20 ms latency\n\n", o.throttleRPS)
		fmt.Fprintf(&md, "aclscan scans `p00` (%d objects) through `internal/faultproxy` in front of RGW, once per `--throttling` mode, %d in flight at most.\n\n", th[0].objects, o.workers)
		md.WriteString("| mode | median time | objects/s | requests/s let through | of the allowed rate | retries per key | failed runs |\n|---|---:|---:|---:|---:|---:|---:|\n")
		for _, s := range th {
			fmt.Fprintf(&md, "| %s | %.0f ms | %.0f | %.0f | %.0f%% | %.3f | %d |\n", s.name, s.wallMS(), s.rate(), s.extra["forwarded_rps"], 100*s.extra["forwarded_rps"]/o.throttleRPS, s.extra["retries_per_key"], s.fails)
		}
		md.WriteString("\n")
	}
	md.WriteString("## 5. Memory\n\nPeak RSS at 100,000 objects is in section 1; the 1,000,000-object run (seeded once, not part of every run) is in [scale-1m.md](scale-1m.md).\n")
	if err := os.WriteFile(o.outDir+"/scale.md", []byte(md.String()), 0o644); err != nil {
		return err
	}
	return rep.chart(o.outDir + "/scale.png")
}

// chart draws objects/s and client CPU per object of section 1.
func (rep *report) chart(path string) error {
	direct := rep.sectionSeries("direct")
	rates, cpus := make(plotter.Values, 0, len(direct)), make(plotter.Values, 0, len(direct))
	var names, cpuNames []string
	for _, s := range direct {
		rates = append(rates, s.rate())
		names = append(names, shortName(s.name))
		if !strings.HasPrefix(s.name, "RGW ceiling") {
			cpus = append(cpus, s.cpuPerObjectUS())
			cpuNames = append(cpuNames, shortName(s.name))
		}
	}
	p1 := plot.New()
	p1.Title.Text = fmt.Sprintf("%d GetObjectAcl directly against RGW: objects/s (higher is better)", rep.opts.objects)
	bars, err := plotter.NewBarChart(rates, vg.Points(28))
	if err != nil {
		return err
	}
	p1.Add(bars)
	p1.NominalX(names...)
	p2 := plot.New()
	p2.Title.Text = "client CPU per object, µs (lower is better)"
	cbars, err := plotter.NewBarChart(cpus, vg.Points(28))
	if err != nil {
		return err
	}
	p2.Add(cbars)
	p2.NominalX(cpuNames...)
	img := vgimgCanvas(10*vg.Inch, 7*vg.Inch)
	tiles := splitVertical(img, 2)
	p1.Draw(tiles[0])
	p2.Draw(tiles[1])
	return savePNG(img, path)
}

func shortName(name string) string {
	for _, cut := range []string{" (", ", "} {
		if i := strings.Index(name, cut); i > 0 {
			name = name[:i]
		}
	}
	return name
}
