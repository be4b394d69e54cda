package batch

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/scan"
)

const scanStateKey = "scan.json"

// ScanState is where an async scan stands, kept in its run's folder
// (scan.json): what it scans, the parts written so far (one per
// invocation), and the engine's checkpoint to continue from.
type ScanState struct {
	ScanID string `json:"scan_id"`
	// Settings are the scan's settings as the first event gave them.
	Settings json.RawMessage `json:"settings"`
	// Parts are the batch ids of the parts, in order: only these count.
	Parts       []string   `json:"parts"`
	Invocations int        `json:"invocations"`
	Checkpoint  scan.State `json:"checkpoint"`
	// Done: the scan ended (Error says why, when it is incomplete);
	// Summary is then its summary.
	Done    bool                  `json:"done"`
	Error   string                `json:"error,omitempty"`
	Summary *report.SummaryRecord `json:"summary,omitempty"`
	// Writer is the invocation that wrote this state: an invocation that
	// finds another's after writing its own does not continue the scan.
	Writer  string    `json:"writer"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
}

// LoadScanState reads scan.json (an error wrapping fs.ErrNotExist when
// there is none).
func LoadScanState(ctx context.Context, store Store) (*ScanState, error) {
	b, err := store.Get(ctx, scanStateKey)
	if err != nil {
		return nil, err
	}
	var st ScanState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s is not an aclscan scan state: %v", store.Where(scanStateKey), err)
	}
	return &st, nil
}

// SaveScanState replaces scan.json.
func SaveScanState(ctx context.Context, store Store, st *ScanState) error {
	st.Updated = time.Now().UTC()
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return store.Put(ctx, scanStateKey, b)
}

// Subtract is what cur counts beyond prev: the counts one invocation of
// a resumed scan added.
func Subtract(cur, prev scan.State) scan.State {
	out := cur
	out.Ranges, out.Source = nil, nil
	out.Objects -= prev.Objects
	out.DeleteMarkers -= prev.DeleteMarkers
	out.Shared -= prev.Shared
	out.ByStatus = subtractMap(cur.ByStatus, prev.ByStatus)
	out.ByKind = subtractMap(cur.ByKind, prev.ByKind)
	out.ByEffective = subtractMap(cur.ByEffective, prev.ByEffective)
	out.Verified = subtractMap(cur.Verified, prev.Verified)
	out.Rechecked = subtractMap(cur.Rechecked, prev.Rechecked)
	return out
}

func subtractMap(cur, prev map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(cur))
	for k, v := range cur {
		if d := v - prev[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}
