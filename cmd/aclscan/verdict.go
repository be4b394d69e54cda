package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/scan"
)

// failPolicy are the finding kinds that make a complete scan exit 3:
// effective ones (--fail-on), and any an ACL says (--fail-on-latent).
type failPolicy struct {
	effective, latent acl.Findings
	// onlyNew counts only the effective findings a baseline did not have
	// (--fail-on-new).
	onlyNew bool
}

func (p failPolicy) kinds() acl.Findings { return p.effective | p.latent }

// kindNames lists every finding kind's name, in output order.
func kindNames() []string {
	var names []string
	for _, k := range acl.AllKinds() {
		names = append(names, k.String())
	}
	return names
}

func parseFailOn(flag, list string) (acl.Findings, error) {
	var set acl.Findings
	if list == "" {
		return 0, nil
	}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "any" {
			for _, k := range acl.AllKinds() {
				set = set.With(k)
			}
			continue
		}
		k, ok := acl.ParseKind(name)
		if !ok {
			return 0, usageErrorf("%s: unknown finding kind %q (want any, or a comma list of %s)", flag, name, strings.Join(kindNames(), ", "))
		}
		set = set.With(k)
	}
	return set, nil
}

// verdict turns the outcome of a scan into the exit code and its message.
func verdict(sum *scan.Summary, scanErr error, fail failPolicy, resumeHint string) error {
	if scanErr != nil {
		msg := scanErr.Error()
		var se *scan.Error
		switch {
		case errors.Is(scanErr, context.Canceled):
			msg = "scan interrupted"
		case errors.As(scanErr, &se):
			msg = se.Explain(flagSpelling)
		}
		msg = fmt.Sprintf("%s; %d objects reported before stopping", msg, sum.Objects)
		if sum.Unchecked > 0 {
			msg += fmt.Sprintf(", %d listed but not checked", sum.Unchecked)
		}
		return &exitError{code: exitIncomplete, msg: msg + resumeHint}
	}
	if n := sum.Count(scan.StatusError); n > 0 {
		return &exitError{code: exitIncomplete, msg: fmt.Sprintf("%d of %d objects could not be checked (status \"error\" in the report)", n, sum.Objects)}
	}
	asked := fail.kinds()
	if asked.Any(acl.OwnerDependent) && sum.BucketOwner == "" {
		return &exitError{code: exitIncomplete, msg: "--fail-on asks for cross-account or foreign-owner, which cannot be judged without the bucket owner: " + sum.OwnerProblem + "; pass --bucket-owner ID"}
	}
	for _, k := range asked.Kinds() {
		if !sum.Judged(k) {
			return &exitError{code: exitIncomplete, msg: fmt.Sprintf("--fail-on asks for %s, which could not be judged: no object's ACL could be read (%d denied, %d errors)", k, sum.Count(scan.StatusDenied), sum.Count(scan.StatusError))}
		}
	}
	var counts []string
	// Findings an accepted-exposure rule accepts do not fail the run.
	for _, k := range (sum.Effective() & fail.effective).Kinds() {
		n, what := sum.Unaccepted(k), ""
		if fail.onlyNew {
			n, what = sum.ByNewEffective[k], " new"
		}
		if n > 0 {
			counts = append(counts, fmt.Sprintf("%s %d%s", k, n, what))
		}
	}
	doors, _, _ := sum.BucketDoors()
	bucketDoors := sum.UnacceptedBucketDoors()
	if fail.onlyNew {
		bucketDoors = 0 // statements are not in the baseline's records: only objects are compared
	}
	for _, k := range (bucketDoors & fail.effective).Kinds() {
		n := 0
		for _, d := range doors {
			if d.Effective && d.Finding == k.String() {
				n++
			}
		}
		counts = append(counts, fmt.Sprintf("%s in %d bucket policy statements (bucket-level)", k, n))
	}
	for _, k := range (sum.Findings() & fail.latent).Kinds() {
		if n := sum.UnacceptedLatent(k); n > 0 {
			counts = append(counts, fmt.Sprintf("%s %d in ACLs (%d effective)", k, n, sum.Unaccepted(k)))
		}
	}
	if len(counts) > 0 {
		return &exitError{code: exitFindings, msg: "findings matching --fail-on: " + strings.Join(counts, ", ")}
	}
	return nil
}
