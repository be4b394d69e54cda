package report

// The output contract in one place: the format names every shell accepts
// and the columns of a record, which the tabular formats write in this
// order (JSONL's field names, the CSV header, Parquet's columns).
// TestOutputContract holds Record, the CSV writer and the Parquet schema
// to it: a field added to one and not the others fails there, not in a
// user's Athena query.

// Format names an output format.
type Format string

// The formats New writes.
const (
	FormatTable   Format = "table"
	FormatJSONL   Format = "jsonl"
	FormatCSV     Format = "csv"
	FormatParquet Format = "parquet"
	FormatOCSF    Format = "ocsf"
	FormatHTML    Format = "html"
)

// Formats lists them, in the order help texts give them.
var Formats = []Format{FormatTable, FormatJSONL, FormatCSV, FormatParquet, FormatOCSF, FormatHTML}

// Columns are a record's fields, in the order CSV and Parquet write them.
var Columns = []string{
	"bucket", "key", "version_id", "is_latest", "owner_id", "status", "error", "grants",
	"findings", "effective", "blocked_by", "verified_public", "source", "report_date",
	"changed_since_report", "sources", "accepted", "accepted_rule", "accepted_reason",
	"baseline", "new_findings", "trusted", "event", "account_id", "account_name", "ou_path",
}

// CSVHeader is the first row of the CSV format: the columns, each
// flattened to text.
var CSVHeader = Columns

// Every format's writer is a Writer.
var (
	_ Writer = (*tableWriter)(nil)
	_ Writer = (*jsonlWriter)(nil)
	_ Writer = (*csvWriter)(nil)
	_ Writer = (*parquetWriter)(nil)
	_ Writer = (*ocsfWriter)(nil)
	_ Writer = (*htmlWriter)(nil)
)
