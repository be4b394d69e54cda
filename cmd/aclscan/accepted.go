package main

import (
	"fmt"

	"github.com/aclscan/aclscan/accept"
	"github.com/aclscan/aclscan/scan"
)

// announceAccepted says which accepted-exposure rules apply, so that a
// file found by default is never a surprise.
func (sh *shell) announceAccepted(rules *accept.Rules) {
	if rules == nil {
		return
	}
	fmt.Fprintf(sh.stderr, "aclscan: accepted exposures from %s: %d rules apply", rules.Path, rules.Len())
	if n := len(rules.Expired); n > 0 {
		fmt.Fprintf(sh.stderr, ", %d expired (no longer applied)", n)
	}
	fmt.Fprintln(sh.stderr)
}

// acceptOutcome is what became of the rules in the run, for the summary.
func acceptOutcome(rules *accept.Rules) *scan.AcceptRules {
	if rules == nil {
		return nil
	}
	out := &scan.AcceptRules{File: rules.Path, Live: rules.Len(), Expired: []string{}, Unmatched: []string{}}
	for _, r := range rules.Expired {
		out.Expired = append(out.Expired, fmt.Sprintf("%s (expired %s)", r.Name(), r.Expires))
	}
	for _, r := range rules.Unmatched() {
		out.Unmatched = append(out.Unmatched, r.Name())
	}
	return out
}
