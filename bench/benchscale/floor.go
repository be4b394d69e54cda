package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"html"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// runFloor is the floor client of issue 15: the least client work a
// GetObjectAcl scan can do, against which aclscan's CPU per object is
// measured in the same run. Each worker owns one kept-alive TCP socket;
// every request is signed by hand (SigV4, the signing key derived anew
// each time), written with fmt, and its answer skipped by Content-Length,
// never parsed. The listing is done the same way, reading keys with a
// byte search. No retries, no TLS, no checks beyond the status: it is a
// yardstick, not a scanner. Prints the number of ACLs fetched.
func runFloor(args []string) error {
	fs := flag.NewFlagSet("floor", flag.ExitOnError)
	bucket := fs.String("bucket", "", "bucket")
	workers := fs.Int("workers", 64, "requests in flight (one socket each)")
	_ = fs.Parse(args)
	endpoint, err := url.Parse(os.Getenv("AWS_ENDPOINT_URL_S3"))
	if err != nil || endpoint.Scheme != "http" {
		return fmt.Errorf("AWS_ENDPOINT_URL_S3 must be an http:// URL (got %q)", os.Getenv("AWS_ENDPOINT_URL_S3"))
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	f := floorSigner{access: os.Getenv("AWS_ACCESS_KEY_ID"), secret: os.Getenv("AWS_SECRET_ACCESS_KEY"), region: region, host: endpoint.Host}

	lister, err := dialFloor(endpoint.Host)
	if err != nil {
		return err
	}
	var keys []string
	token := ""
	for {
		query := "list-type=2&max-keys=1000"
		if token != "" {
			query = "continuation-token=" + queryEscape(token) + "&" + query
		}
		body, err := lister.get(&f, "/"+*bucket, query, true)
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		keys = appendBetween(keys, body, "<Key>", "</Key>")
		next := appendBetween(nil, body, "<NextContinuationToken>", "</NextContinuationToken>")
		if len(next) == 0 {
			break
		}
		token = next[0]
	}

	work := make(chan string, *workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	fetched := 0
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := dialFloor(endpoint.Host)
			n := 0
			for key := range work {
				if err == nil {
					_, err = conn.get(&f, "/"+*bucket+"/"+pathEscape(key), "acl=", false)
				}
				if err == nil {
					n++
				}
			}
			mu.Lock()
			fetched += n
			if err != nil {
				failed = err
			}
			mu.Unlock()
		}()
	}
	for _, key := range keys {
		work <- key
	}
	close(work)
	wg.Wait()
	if failed != nil {
		return failed
	}
	fmt.Println(fetched)
	return nil
}

type floorConn struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialFloor(host string) (*floorConn, error) {
	conn, err := net.Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	return &floorConn{conn: conn, r: bufio.NewReader(conn)}, nil
}

// get sends a signed GET and skips (or, when keep, returns) the body.
func (c *floorConn) get(f *floorSigner, path, query string, keep bool) ([]byte, error) {
	date, auth := f.sign(path, query, time.Now().UTC())
	_, err := fmt.Fprintf(c.conn, "GET %s?%s HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\nX-Amz-Content-Sha256: %s\r\nAuthorization: %s\r\n\r\n",
		path, query, f.host, date, emptySHA256, auth)
	if err != nil {
		return nil, err
	}
	status, length, chunked := 0, -1, false
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		if status == 0 {
			if len(line) < 12 {
				return nil, fmt.Errorf("bad status line %q", line)
			}
			status, _ = strconv.Atoi(string(line[9:12]))
			continue
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && strings.EqualFold(string(line[:15]), "Content-Length:") {
			length, _ = strconv.Atoi(strings.TrimSpace(string(line[15:])))
		}
		if len(line) > 18 && strings.EqualFold(string(line[:18]), "Transfer-Encoding:") {
			chunked = true
		}
	}
	var body []byte
	switch {
	case chunked:
		// RGW sends listings chunked.
		for {
			line, err := c.r.ReadSlice('\n')
			if err != nil {
				return nil, err
			}
			size, err := strconv.ParseInt(strings.TrimSpace(string(line)), 16, 32)
			if err != nil {
				return nil, fmt.Errorf("bad chunk size %q", line)
			}
			chunk := make([]byte, size+2)
			if _, err := io.ReadFull(c.r, chunk); err != nil {
				return nil, err
			}
			if size == 0 {
				break
			}
			body = append(body, chunk[:size]...)
		}
	case length < 0:
		return nil, fmt.Errorf("the answer has neither Content-Length nor chunks")
	case keep:
		body = make([]byte, length)
		_, err = io.ReadFull(c.r, body)
	default:
		_, err = c.r.Discard(length)
	}
	if err == nil && status != 200 {
		err = fmt.Errorf("HTTP %d for %s", status, path)
	}
	return body, err
}

type floorSigner struct{ access, secret, region, host string }

// sign returns X-Amz-Date and Authorization, deriving the key each time.
func (f *floorSigner) sign(path, query string, now time.Time) (string, string) {
	date := now.Format("20060102T150405Z")
	canonical := "GET\n" + path + "\n" + query + "\nhost:" + f.host + "\nx-amz-content-sha256:" + emptySHA256 +
		"\nx-amz-date:" + date + "\n\nhost;x-amz-content-sha256;x-amz-date\n" + emptySHA256
	sum := sha256.Sum256([]byte(canonical))
	scope := date[:8] + "/" + f.region + "/s3/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + date + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := floorHMAC([]byte("AWS4"+f.secret), date[:8])
	key = floorHMAC(key, f.region)
	key = floorHMAC(key, "s3")
	key = floorHMAC(key, "aws4_request")
	return date, "AWS4-HMAC-SHA256 Credential=" + f.access + "/" + scope +
		", SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + hex.EncodeToString(floorHMAC(key, toSign))
}

func floorHMAC(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// appendBetween appends every text between open and close in body.
func appendBetween(dst []string, body []byte, open, close string) []string {
	for {
		i := bytes.Index(body, []byte(open))
		if i < 0 {
			return dst
		}
		body = body[i+len(open):]
		j := bytes.Index(body, []byte(close))
		if j < 0 {
			return dst
		}
		dst = append(dst, html.UnescapeString(string(body[:j])))
		body = body[j+len(close):]
	}
}

// pathEscape and queryEscape escape as SigV4 canonicalizes (RFC 3986
// unreserved characters kept; '/' kept in a path).
func pathEscape(s string) string { return sigv4Escape(s, true) }

func queryEscape(s string) string { return sigv4Escape(s, false) }

func sigv4Escape(s string, path bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || (path && c == '/') {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
