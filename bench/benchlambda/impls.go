package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// impl is one implementation of the experiment's function.
type impl struct {
	name  string // column key in the CSV
	label string // column title in the tables
	// bootstrap is the custom-runtime executable; env is added to the
	// function's environment.
	bootstrap string
	env       []string
	// unavailable says why the implementation cannot run here ("" if it can).
	unavailable string
}

func implementations(o options) []impl {
	goBootstrap := filepath.Join(o.repo, "dist", "linux-amd64", "bootstrap")
	pyDir := filepath.Join(o.repo, "bench", "lambda", "python")
	nodeDir := filepath.Join(o.repo, "bench", "lambda", "node")
	all := []impl{
		{name: "aclscan-serial", label: "aclscan serial", bootstrap: goBootstrap, env: []string{"STRATEGY=serial"}},
		{name: "aclscan-pool", label: "aclscan pool", bootstrap: goBootstrap, env: []string{"STRATEGY=pool"}},
		{name: "aclscan-all", label: "aclscan all", bootstrap: goBootstrap, env: []string{"STRATEGY=all"}},
		{name: "python-serial-boto3", label: "Serial boto3", bootstrap: filepath.Join(pyDir, "bootstrap"),
			env: []string{"_HANDLER=serial_boto3.handler", "PYTHON=" + o.python}},
		{name: "python-aioboto3", label: "aioboto3",
			unavailable: "not runnable here: aioboto3 unavailable (not in Debian, PyPI unreachable)"},
		{name: "python-boto3-threads", label: "boto3 + threads", bootstrap: filepath.Join(pyDir, "bootstrap"),
			env: []string{"_HANDLER=threads_boto3.handler", "PYTHON=" + o.python}},
		{name: "node-promise-all", label: "Node.js Promise.all", bootstrap: filepath.Join(nodeDir, "bootstrap"),
			env: []string{"_HANDLER=promise_all.handler"}},
	}
	for i := range all {
		im := &all[i]
		if im.unavailable != "" {
			continue
		}
		if _, err := os.Stat(im.bootstrap); err != nil {
			im.unavailable = fmt.Sprintf("not runnable here: %v", err)
			continue
		}
		switch {
		case im.name == "python-serial-boto3" || im.name == "python-boto3-threads":
			if err := exec.Command(o.python, "-c", "import boto3").Run(); err != nil {
				im.unavailable = "not runnable here: boto3 not importable by " + o.python
			}
		case im.name == "node-promise-all":
			if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "@aws-sdk", "client-s3")); err != nil {
				im.unavailable = "not runnable here: run npm install in bench/lambda/node"
			}
		}
	}
	if len(o.impls) == 0 {
		return all
	}
	var chosen []impl
	for _, im := range all {
		for _, name := range o.impls {
			if im.name == name {
				chosen = append(chosen, im)
			}
		}
	}
	return chosen
}
