package report

import (
	"encoding/json"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/scan"
)

// Risky keeps the first risky results of a scan within a count and a byte
// budget, and counts the rest: enough for a person or a Lambda response,
// in memory that does not grow with the bucket.
type Risky struct {
	// Limit bounds the records kept; MaxBytes bounds their JSON size
	// (0 = no byte bound). An ACL can hold 100 grants, so a count alone
	// does not bound the size.
	Limit    int
	MaxBytes int
	Records  []Record
	// Total counts every risky result seen, kept or not.
	Total int64
	bytes int
	full  bool
}

// Add records r if it is risky and fits.
func (k *Risky) Add(r *scan.Result) {
	if !r.Risky() {
		return
	}
	k.Total++
	if k.full || len(k.Records) >= k.Limit {
		return
	}
	rec := NewRecord(r)
	rec.Grants = append([]acl.Grant(nil), rec.Grants...)
	if k.MaxBytes > 0 {
		b, err := json.Marshal(&rec)
		if err != nil || k.bytes+len(b) > k.MaxBytes {
			k.full = true
			return
		}
		k.bytes += len(b)
	}
	k.Records = append(k.Records, rec)
}

// Omitted is the number of risky results seen but not kept.
func (k *Risky) Omitted() int64 { return k.Total - int64(len(k.Records)) }

// Write is Add as a scan.Sink.
func (k *Risky) Write(r *scan.Result) error {
	k.Add(r)
	return nil
}
