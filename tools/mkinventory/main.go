// Command mkinventory writes an S3 Inventory report of a bucket of the
// local S3, exactly as AWS lays one out, into a destination bucket there
// (radosgw does not generate inventories):
//
//	go run ./tools/mkinventory -source demo -dest inventory -format CSV
//
// It prints the manifest's s3:// URL. Every object's ACL is read as its
// owner, as S3 Inventory sees it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/aclscan/aclscan/internal/invgen"
	"github.com/aclscan/aclscan/internal/locals3"
)

func main() {
	source := flag.String("source", locals3.DemoBucket, "bucket to inventory")
	dest := flag.String("dest", "inventory", "destination bucket (created if missing)")
	prefix := flag.String("prefix", "reports", "destination prefix")
	config := flag.String("config", "all-objects", "inventory configuration ID")
	format := flag.String("format", "CSV", "CSV or Parquet")
	versioned := flag.Bool("versioned", false, "IncludedObjectVersions=All")
	flag.Parse()
	if err := run(*source, *dest, *prefix, *config, *format, *versioned); err != nil {
		fmt.Fprintln(os.Stderr, "mkinventory:", err)
		os.Exit(1)
	}
}

func run(source, dest, prefix, config, format string, versioned bool) error {
	ctx := context.Background()
	env, err := locals3.Start(ctx)
	if err != nil {
		return err
	}
	if err := locals3.CreateBucket(ctx, env.Client(env.A), dest); err != nil {
		return err
	}
	objects, err := invgen.FromBucket(ctx, env, source, versioned)
	if err != nil {
		return err
	}
	r := invgen.Report{SourceBucket: source, DestinationBucket: dest, Prefix: prefix, ConfigID: config, Format: format, Versioned: versioned, Created: time.Now().UTC()}
	if err := r.Write(objects, invgen.PutTo(ctx, env, dest)); err != nil {
		return err
	}
	fmt.Printf("s3://%s/%s\n", dest, r.ManifestKey())
	fmt.Fprintf(os.Stderr, "mkinventory: %d rows of s3://%s in a %s report\n", len(objects), source, format)
	return nil
}
