package report

import (
	"fmt"
	"io"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/scan"
	"github.com/parquet-go/parquet-go"
)

// parquetRecord is Record's Parquet form: the same columns, grants and
// finding kinds as lists, for Athena or DuckDB over reports of hundreds
// of millions of objects.
type parquetRecord struct {
	Bucket             string          `parquet:"bucket,dict"`
	Key                string          `parquet:"key"`
	VersionID          *string         `parquet:"version_id,optional"`
	IsLatest           *bool           `parquet:"is_latest,optional"`
	OwnerID            string          `parquet:"owner_id,dict"`
	Status             string          `parquet:"status,dict"`
	Error              *string         `parquet:"error,optional"`
	Grants             []parquetGrant  `parquet:"grants,list"`
	Findings           []string        `parquet:"findings,list"`
	Effective          []string        `parquet:"effective,list"`
	BlockedBy          []string        `parquet:"blocked_by,list"`
	VerifiedPublic     *bool           `parquet:"verified_public,optional"`
	Source             string          `parquet:"source,dict"`
	ReportDate         *string         `parquet:"report_date,optional"`
	ChangedSinceReport *bool           `parquet:"changed_since_report,optional"`
	Sources            []parquetSource `parquet:"sources,list"`
	Accepted           []string        `parquet:"accepted,list"`
	AcceptedRule       *string         `parquet:"accepted_rule,optional"`
	AcceptedReason     *string         `parquet:"accepted_reason,optional"`
	Baseline           *string         `parquet:"baseline,optional,dict"`
	NewFindings        []string        `parquet:"new_findings,list"`
	Trusted            []string        `parquet:"trusted,list"`
	Event              *EventRecord    `parquet:"event,optional"`
	AccountID          *string         `parquet:"account_id,optional,dict"`
	AccountName        *string         `parquet:"account_name,optional,dict"`
	OUPath             *string         `parquet:"ou_path,optional,dict"`
}

// parquetSource is acl.Source's Parquet form.
type parquetSource struct {
	Finding   string   `parquet:"finding,dict"`
	Door      string   `parquet:"door,dict"`
	Ref       string   `parquet:"ref"`
	Principal string   `parquet:"principal"`
	Actions   []string `parquet:"actions,list"`
	Condition string   `parquet:"condition"`
	Effective bool     `parquet:"effective"`
	Note      string   `parquet:"note"`
}

type parquetGrant struct {
	Type       string `parquet:"type"`
	ID         string `parquet:"id"`
	URI        string `parquet:"uri"`
	Email      string `parquet:"email"`
	Permission string `parquet:"permission"`
}

// parquetRowGroup is the rows of one row group: what the writer holds in
// memory at most, whatever the report's size.
const parquetRowGroup = 64 << 10

type parquetWriter struct {
	pw    *parquet.GenericWriter[parquetRecord]
	batch []parquetRecord
	rows  int
}

func newParquet(w io.Writer) *parquetWriter {
	return &parquetWriter{
		pw:    parquet.NewGenericWriter[parquetRecord](w, parquet.Compression(&parquet.Snappy)),
		batch: make([]parquetRecord, 0, 1024),
	}
}

func (p *parquetWriter) Write(r *scan.Result) error {
	rec := NewRecord(r)
	pr := parquetRecord{Bucket: rec.Bucket, Key: rec.Key, VersionID: rec.VersionID, IsLatest: rec.IsLatest, OwnerID: rec.OwnerID,
		Status: rec.Status, Error: rec.Error, Findings: rec.Findings, Effective: rec.Effective, BlockedBy: rec.BlockedBy,
		VerifiedPublic: rec.VerifiedPublic, Source: rec.Source, ReportDate: rec.ReportDate, ChangedSinceReport: rec.ChangedSinceReport,
		Accepted: rec.Accepted, AcceptedRule: rec.AcceptedRule, AcceptedReason: rec.AcceptedReason,
		Baseline: rec.Baseline, NewFindings: rec.NewFindings, Trusted: rec.Trusted, Event: rec.Event, AccountID: rec.AccountID,
		AccountName: rec.AccountName, OUPath: rec.OUPath}
	pr.Grants = make([]parquetGrant, len(rec.Grants)) // r's grants are not kept past Write
	for i, g := range rec.Grants {
		pr.Grants[i] = parquetGrant{Type: g.Type, ID: g.ID, URI: g.URI, Email: g.Email, Permission: g.Permission}
	}
	if len(rec.Sources) > 0 {
		pr.Sources = make([]parquetSource, len(rec.Sources))
		for i, s := range rec.Sources {
			pr.Sources[i] = parquetSource{Finding: s.Finding, Door: s.Door, Ref: s.Ref, Principal: s.Principal, Actions: s.Actions,
				Condition: s.Condition, Effective: s.Effective, Note: s.Note}
		}
	}
	p.batch = append(p.batch, pr)
	if len(p.batch) == cap(p.batch) {
		return p.writeBatch()
	}
	return nil
}

func (p *parquetWriter) writeBatch() error {
	if _, err := p.pw.Write(p.batch); err != nil {
		return err
	}
	p.rows += len(p.batch)
	clear(p.batch)
	p.batch = p.batch[:0]
	if p.rows >= parquetRowGroup {
		p.rows = 0
		return p.pw.Flush() // ends the row group: memory stays bounded
	}
	return nil
}

// Close writes the last rows and the file's footer.
func (p *parquetWriter) Close(*scan.Summary) error {
	if err := p.writeBatch(); err != nil {
		return err
	}
	return p.pw.Close()
}

// Flush writes the rows so far as a row group.
func (p *parquetWriter) Flush() error {
	if err := p.writeBatch(); err != nil {
		return err
	}
	p.rows = 0
	return p.pw.Flush()
}

// ReadParquet reads a Parquet report back, record by record, in constant
// memory (a row group at a time).
func ReadParquet(r io.ReaderAt, size int64, fn func(Record) error) error {
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return fmt.Errorf("not a Parquet report: %w", err)
	}
	rows := parquet.NewGenericReader[parquetRecord](f)
	defer rows.Close()
	buf := make([]parquetRecord, 256)
	for {
		n, err := rows.Read(buf)
		for i := range buf[:n] {
			if ferr := fn(buf[i].record()); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read Parquet report: %w", err)
		}
	}
}

// record is the row as the contract's Record.
func (p *parquetRecord) record() Record {
	rec := Record{Bucket: p.Bucket, Key: p.Key, VersionID: p.VersionID, IsLatest: p.IsLatest, OwnerID: p.OwnerID, Status: p.Status,
		Error: p.Error, Findings: p.Findings, Effective: p.Effective, BlockedBy: p.BlockedBy, VerifiedPublic: p.VerifiedPublic,
		Source: p.Source, ReportDate: p.ReportDate, ChangedSinceReport: p.ChangedSinceReport, Accepted: p.Accepted,
		AcceptedRule: p.AcceptedRule, AcceptedReason: p.AcceptedReason, Baseline: p.Baseline, NewFindings: p.NewFindings,
		Trusted: p.Trusted, Event: p.Event, AccountID: p.AccountID, AccountName: p.AccountName, OUPath: p.OUPath}
	rec.Grants = make([]acl.Grant, len(p.Grants))
	for i, g := range p.Grants {
		rec.Grants[i] = acl.Grant{Type: g.Type, ID: g.ID, URI: g.URI, Email: g.Email, Permission: g.Permission}
	}
	for _, s := range p.Sources {
		rec.Sources = append(rec.Sources, acl.Source{Finding: s.Finding, Door: s.Door, Ref: s.Ref, Principal: s.Principal, Actions: s.Actions,
			Condition: s.Condition, Effective: s.Effective, Note: s.Note})
	}
	return rec
}
