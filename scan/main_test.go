package scan

import (
	"os"
	"testing"

	"github.com/aclscan/aclscan/internal/locals3"
)

// Tests give clients their credentials and endpoint; none reads the
// developer's AWS settings.
func TestMain(m *testing.M) {
	locals3.Isolate()
	os.Exit(m.Run())
}
