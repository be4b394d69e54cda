package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"

	"github.com/aclscan/aclscan/scan"
)

type csvWriter struct {
	w      *csv.Writer
	row    []string
	header bool
	sb     strings.Builder
}

func newCSV(w io.Writer) *csvWriter {
	return &csvWriter{w: csv.NewWriter(w), row: make([]string, len(CSVHeader))}
}

func (c *csvWriter) Write(r *scan.Result) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(CSVHeader); err != nil {
			return err
		}
	}
	row := c.row // in the order of Columns (contract.go)
	row[0] = r.Bucket
	row[1] = r.Key
	row[2], row[3] = r.VersionID, ""
	if r.Versioned {
		row[3] = strconv.FormatBool(r.IsLatest)
	}
	row[4] = r.OwnerID
	row[5] = r.Status.String()
	row[6] = r.Err
	row[7] = c.grants(r)
	row[8] = strings.Join(r.Findings.Names(), ";")
	row[9] = strings.Join(r.Effective.Names(), ";")
	row[10] = strings.Join(r.BlockedBy, ";")
	row[11] = triState(r.Verified == scan.Served, r.Verified != scan.NotVerified)
	row[12] = r.Source
	if row[12] == "" {
		row[12] = "live"
	}
	row[13] = r.ReportDate
	row[14] = triState(r.Rechecked == scan.Changed, r.Rechecked != scan.NotRechecked)
	row[15] = c.sources(r)
	row[16], row[17], row[18] = "", "", ""
	if r.Accepted != 0 {
		row[16] = strings.Join(r.Accepted.Names(), ";")
	}
	if a := r.Acceptance; a != nil {
		row[17], row[18] = a.Rule, a.Reason
	}
	row[19], row[20], row[21], row[22], row[23], row[24], row[25] = "", "", strings.Join(r.Trusted, ";"), "", "", "", ""
	if a := r.Account; a != nil {
		row[23], row[24], row[25] = a.ID, a.Name, a.OUPath
	}
	if c := r.Cause; c != nil {
		row[22] = c.Source + " " + c.Name + " " + c.ID
	}
	if r.Compared {
		row[19] = "known"
		if r.New != 0 {
			row[19], row[20] = "new", strings.Join(r.New.Names(), ";")
		}
	}
	// Every text column may hold what a server or a policy chose (an
	// owner ID, an error message, a version ID, a grantee): each is
	// defused, not only the key.
	for i := range row {
		row[i] = defuseFormula(row[i])
	}
	return c.w.Write(row)
}

// sources flattens the doors as FINDING@DOOR:REF joined by ';' (see
// acl.Source.String); policy text can be anything, so it is defused.
func (c *csvWriter) sources(r *scan.Result) string {
	if r.Findings == 0 && r.Sources == nil {
		return ""
	}
	c.sb.Reset()
	for i, s := range ResultSources(r) {
		if i > 0 {
			c.sb.WriteByte(';')
		}
		c.sb.WriteString(s.String())
	}
	return c.sb.String()
}

// triState is "true", "false", or "" when not known.
func triState(v, known bool) string {
	switch {
	case !known:
		return ""
	case v:
		return "true"
	}
	return "false"
}

// grants flattens the grants as TYPE:GRANTEE:PERMISSION joined by ';',
// where GRANTEE is the id, uri or email, whichever the grant has.
func (c *csvWriter) grants(r *scan.Result) string {
	c.sb.Reset()
	for i, g := range r.Grants {
		if i > 0 {
			c.sb.WriteByte(';')
		}
		c.sb.WriteString(g.Type)
		c.sb.WriteByte(':')
		switch {
		case g.ID != "":
			c.sb.WriteString(g.ID)
		case g.URI != "":
			c.sb.WriteString(g.URI)
		default:
			c.sb.WriteString(g.Email)
		}
		c.sb.WriteByte(':')
		c.sb.WriteString(g.Permission)
	}
	return c.sb.String()
}

// defuseFormula keeps a hostile key such as =HYPERLINK(...) from running as
// a formula when the report is opened in a spreadsheet (OWASP's advice:
// prefix a single quote). JSONL carries keys unchanged.
func defuseFormula(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	// Spreadsheets also read the full-width forms (＝＋－＠) as formula signs.
	for _, sign := range []string{"\uFF1D", "\uFF0B", "\uFF0D", "\uFF20"} {
		if strings.HasPrefix(s, sign) {
			return "'" + s
		}
	}
	return s
}

func (c *csvWriter) Close(*scan.Summary) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(CSVHeader); err != nil {
			return err
		}
	}
	c.w.Flush()
	return c.w.Error()
}

func (c *csvWriter) Flush() error {
	c.w.Flush()
	return c.w.Error()
}
