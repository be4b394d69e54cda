// Command synths3 is a synthetic S3 endpoint for measuring aclscan's own
// memory and CPU at sizes a local radosgw takes too long to seed: one
// bucket of N keys (obj-0000000, obj-0000001, ...) generated on the fly,
// ListObjectsV2 pages (start-after, continuation-token, max-keys), and the
// same private ACL for every GetObjectAcl. It checks no signature: it
// measures the client, not the server.
//
//	go run ./bench/synths3 -objects 1000000 -listen 127.0.0.1:7499
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

const owner = "synthetic-owner"

var aclDoc = `<?xml version="1.0" encoding="UTF-8"?><AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>` + owner + `</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>` + owner + `</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`

func main() {
	objects := flag.Int("objects", 1000000, "keys in the bucket")
	listen := flag.String("listen", "127.0.0.1:7499", "address")
	flag.Parse()
	key := func(i int) string { return fmt.Sprintf("obj-%07d", i) }
	// first returns the index of the first key > after.
	first := func(after string) int {
		return sort.Search(*objects, func(i int) bool { return key(i) > after })
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		_, objectKey, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		w.Header().Set("Content-Type", "application/xml")
		switch {
		case q.Has("acl"):
			_, _ = w.Write([]byte(aclDoc))
		case objectKey == "" && q.Get("list-type") == "2":
			start := 0
			if token := q.Get("continuation-token"); token != "" {
				start = first(token)
			} else if after := q.Get("start-after"); after != "" {
				start = first(after)
			}
			limit := 1000
			if mk, err := strconv.Atoi(q.Get("max-keys")); err == nil && mk > 0 && mk < limit {
				limit = mk
			}
			end := min(*objects, start+limit)
			var b strings.Builder
			b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><EncodingType>url</EncodingType>`)
			for i := start; i < end; i++ {
				fmt.Fprintf(&b, "<Contents><Key>%s</Key><Size>0</Size><Owner><ID>%s</ID></Owner></Contents>", key(i), owner)
			}
			if end < *objects {
				fmt.Fprintf(&b, "<IsTruncated>true</IsTruncated><NextContinuationToken>%s</NextContinuationToken>", key(end-1))
			} else {
				b.WriteString("<IsTruncated>false</IsTruncated>")
			}
			b.WriteString("</ListBucketResult>")
			_, _ = w.Write([]byte(b.String()))
		default:
			w.WriteHeader(http.StatusNotImplemented)
			_, _ = w.Write([]byte(`<Error><Code>NotImplemented</Code></Error>`))
		}
	})
	log.Printf("synths3: %d objects on http://%s", *objects, *listen)
	log.Fatal(http.ListenAndServe(*listen, nil))
}
