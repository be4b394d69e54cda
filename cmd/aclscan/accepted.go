package main

import (
	"fmt"

	"github.com/aclscan/aclscan/accept"
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
