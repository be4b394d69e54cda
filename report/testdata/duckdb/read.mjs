// Reads a Parquet file with DuckDB and prints its rows as JSON lines
// (lists as arrays), for report/parquet_duckdb_test.go.
import { DuckDBInstance } from "@duckdb/node-api";

const path = process.argv[2];
const db = await DuckDBInstance.create(":memory:");
const conn = await db.connect();
const reader = await conn.runAndReadAll(`SELECT * FROM read_parquet('${path.replaceAll("'", "''")}')`);
for (const row of reader.getRowObjectsJson()) {
  console.log(JSON.stringify(row));
}
