package wire

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Signer signs the lean path's requests (GetObjectAcl, list pages:
// GET, empty payload, a handful of headers) exactly as the SDK's
// v4.Signer does with DisableURIPathEscaping, without its per-request
// header maps, joins and key derivation: the SDK's signer took 12.4 µs
// of the client's ~120 µs of CPU per object (docs/benchmarks/README.md,
// "Client CPU per object"). TestLeanSignerMatchesSDK compares the two,
// header for header, over keys, versions, session tokens and ports.
type Signer struct {
	key  atomic.Pointer[signingKey] // the last derived: one a day per region
	bufs sync.Pool                  // *[]byte for the canonical request
}

// signingKey is a derived key, its credential scope, and its HMACs,
// reset and reused.
type signingKey struct {
	secret, date, region, service string
	scope                         string // date/region/service/aws4_request
	key                           []byte
	macs                          sync.Pool // hash.Hash
}

// ignoredHeaders are the headers v4.Signer leaves unsigned.
var ignoredHeaders = [...]string{"Authorization", "User-Agent", "X-Amzn-Trace-Id", "Expect", "Transfer-Encoding"}

func isIgnoredHeader(k string) bool {
	for _, h := range ignoredHeaders {
		if strings.EqualFold(k, h) {
			return true
		}
	}
	return false
}

// lowerHeader lower-cases a header name; the lean path's own are
// answered without allocating.
func lowerHeader(k string) string {
	switch k {
	case "X-Amz-Date":
		return "x-amz-date"
	case "X-Amz-Content-Sha256":
		return "x-amz-content-sha256"
	case "X-Amz-Security-Token":
		return "x-amz-security-token"
	}
	return strings.ToLower(k)
}

// derive returns the signing key of (secret, date, region, service),
// derived once and kept until one of them changes. Signing runs in every
// worker: the key is read without a lock (two workers deriving the same
// new key at once both store an equal one).
func (s *Signer) derive(secret, date, region, service string) *signingKey {
	if k := s.key.Load(); k != nil && k.secret == secret && k.date == date && k.region == region && k.service == service {
		return k
	}
	key := hmacSHA256([]byte("AWS4"+secret), date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, "aws4_request")
	k := &signingKey{secret: secret, date: date, region: region, service: service, key: key,
		scope: date + "/" + region + "/" + service + "/aws4_request"}
	s.key.Store(k)
	return k
}

// mac is the key's HMAC-SHA256 of b.
func (k *signingKey) mac(b []byte, sum []byte) []byte {
	h, _ := k.macs.Get().(hash.Hash)
	if h == nil {
		h = hmac.New(sha256.New, k.key)
	}
	h.Reset()
	h.Write(b)
	sum = h.Sum(sum)
	k.macs.Put(h)
	return sum
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// sign adds X-Amz-Date (and X-Amz-Security-Token) and Authorization to
// req, and rewrites its query in canonical form, as v4.Signer.SignHTTP.
func (s *Signer) Sign(req *http.Request, creds aws.Credentials, payloadHash, service, region string, now time.Time) {
	now = now.UTC()
	var stamp [16]byte
	amzDate := string(now.AppendFormat(stamp[:0], "20060102T150405Z"))
	date := amzDate[:8]
	h := req.Header
	h["X-Amz-Date"] = []string{amzDate}
	if creds.SessionToken != "" {
		h["X-Amz-Security-Token"] = []string{creds.SessionToken}
	}
	sanitizeHost(req)
	host := req.URL.Host
	if req.Host != "" {
		host = req.Host
	}

	// Signed headers: host and every header not ignored, lower-cased and
	// sorted (the lean path's headers are few and in canonical form).
	var namesArr [12]header
	names := append(namesArr[:0], header{name: "host"})
	for k := range h {
		if isIgnoredHeader(k) || strings.EqualFold(k, "Content-Length") {
			continue
		}
		names = append(names, header{lowerHeader(k), k})
	}
	slices.SortFunc(names, func(a, b header) int { return strings.Compare(a.name, b.name) })

	query := canonicalQuery(req.URL.RawQuery)
	req.URL.RawQuery = query

	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := (*bp)[:0]
	b = append(b, req.Method...)
	b = append(b, '\n')
	b = append(b, uriPath(req.URL)...)
	b = append(b, '\n')
	b = append(b, query...)
	b = append(b, '\n')
	for _, hd := range names {
		b = append(b, hd.name...)
		b = append(b, ':')
		if hd.key == "" {
			b = append(b, stripExcessSpaces(host)...)
		} else {
			for i, v := range h[hd.key] {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, strings.TrimSpace(stripExcessSpaces(v))...)
			}
		}
		b = append(b, '\n')
	}
	b = append(b, '\n')
	b = appendSignedHeaders(b, names)
	b = append(b, '\n')
	b = append(b, payloadHash...)
	canonicalHash := sha256.Sum256(b)

	key := s.derive(creds.SecretAccessKey, date, region, service)
	scope := key.scope
	b = b[:0]
	b = append(b, "AWS4-HMAC-SHA256\n"...)
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = append(b, scope...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, canonicalHash[:])
	var sum [sha256.Size]byte
	signature := key.mac(b, sum[:0])

	b = b[:0]
	b = append(b, "AWS4-HMAC-SHA256 Credential="...)
	b = append(b, creds.AccessKeyID...)
	b = append(b, '/')
	b = append(b, scope...)
	b = append(b, ", SignedHeaders="...)
	b = appendSignedHeaders(b, names)
	b = append(b, ", Signature="...)
	b = hex.AppendEncode(b, signature)
	h["Authorization"] = []string{string(b)}
	*bp = b
	s.bufs.Put(bp)
}

// header is a signed header: its lower-cased name, and its key in
// req.Header ("" for host).
type header struct{ name, key string }

// appendSignedHeaders appends the signed header names, ';'-separated.
func appendSignedHeaders(b []byte, names []header) []byte {
	for i, hd := range names {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, hd.name...)
	}
	return b
}

// canonicalQuery is the query as SigV4 canonicalizes it: parameters
// sorted by name then value, escaped with %20 for spaces. The lean path's
// usual query ("acl") is answered without parsing.
func canonicalQuery(raw string) string {
	switch raw {
	case "":
		return ""
	case "acl":
		return "acl="
	}
	values, _ := url.ParseQuery(raw)
	type param struct{ k, v string }
	params := make([]param, 0, len(values))
	for k, vs := range values {
		ek := escapeQueryComponent(k)
		for _, v := range vs {
			params = append(params, param{ek, escapeQueryComponent(v)})
		}
	}
	slices.SortFunc(params, func(a, b param) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var sb strings.Builder
	for i, p := range params {
		if i > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(p.k)
		sb.WriteByte('=')
		sb.WriteString(p.v)
	}
	return sb.String()
}

func escapeQueryComponent(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// uriPath is the request's path as sent (S3 signs it unescaped again).
func uriPath(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return p
}

// sanitizeHost drops a default port from the Host, as the SDK does
// before signing.
func sanitizeHost(r *http.Request) {
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	i := strings.LastIndexByte(host, ':')
	if i < 0 || strings.HasSuffix(host, "]") {
		return
	}
	port := host[i+1:]
	if (r.URL.Scheme == "http" && port == "80") || (r.URL.Scheme == "https" && port == "443") {
		r.Host = host[:i]
	}
}

// stripExcessSpaces trims spaces and folds runs of them into one.
func stripExcessSpaces(s string) string {
	s = strings.Trim(s, " ")
	if !strings.Contains(s, "  ") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' && i > 0 && s[i-1] == ' ' {
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

// EmptyPayloadSHA256 is the SHA-256 of an empty body, which S3 requires in
// X-Amz-Content-Sha256.
const EmptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
