package s3access

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
)

// flagSpelling spells settings as a command line would.
func flagSpelling(s Setting, value string) string {
	if value == "" {
		return "--" + string(s)
	}
	return "--" + string(s) + " " + value
}

// Explain turns each kind of failure into one line naming what to do.
func TestExplain(t *testing.T) {
	t.Parallel()
	getErr := func(err error) error {
		return &OperationError{Op: "ListObjectsV2", Attempts: 5, Err: &url.Error{Op: "Get", URL: "http://h/b", Err: err}}
	}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"missing bucket", &ResponseError{Status: 404, Code: "NoSuchBucket"}, "the bucket does not exist"},
		{"denied", &ResponseError{Status: 403, Code: "AccessDenied"}, "s3:ListBucket, s3:GetObjectAcl"},
		{"expired", &ResponseError{Status: 400, Code: "ExpiredToken"}, "the credentials have expired"},
		{"other region", &ResponseError{Status: 301, Code: "PermanentRedirect", Region: "ap-south-1"}, "use --region ap-south-1"},
		{"region unknown", &ResponseError{Status: 301, Code: "PermanentRedirect"}, "in another region; set it with --region"},
		{"overloaded", &ResponseError{Status: 503, Code: "SlowDown"}, "lower --concurrency"},
		{"not implemented", &OperationError{Op: "GetObjectAcl", Err: &ResponseError{Status: 501, Code: "NotImplemented"}}, "does not implement GetObjectAcl"},
		{"server message without its period", &ResponseError{Status: 400, Code: "Odd", Message: "Something odd."}, "Odd: Something odd"},
		{"refused", getErr(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), "nothing listens at the endpoint"},
		{"closed before an answer", getErr(io.EOF), "closed before any answer"},
		{"idle connection closed", getErr(errors.New("http: server closed idle connection")), "closed before any answer"},
		{"reset", getErr(&net.OpError{Op: "read", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}}), "closed before any answer"},
		{"cut short", fmt.Errorf("read response: %w", io.ErrUnexpectedEOF), "cut short"},
		{"dns", getErr(&net.DNSError{Name: "b.example.invalid", IsNotFound: true}), `cannot resolve host "b.example.invalid"`},
		{"interrupted", context.Canceled, "interrupted"},
		{"other", errors.New("something odd"), "something odd"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Explain("list s3://b/", tc.err, flagSpelling)
			if !strings.HasPrefix(got, "list s3://b/: ") || !strings.Contains(got, tc.want) || strings.Contains(got, "\n") {
				t.Errorf("Explain = %q, want one line with %q", got, tc.want)
			}
			if strings.HasSuffix(got, ".") {
				t.Errorf("Explain = %q ends with a period: the shells append to it", got)
			}
			// The library's own words name no shell's flags.
			if plain := Explain("list s3://b/", tc.err, nil); strings.Contains(plain, "--") {
				t.Errorf("Explain without a spelling = %q, names a flag", plain)
			}
		})
	}
}

func TestIsUnavailable(t *testing.T) {
	t.Parallel()
	getErr := func(err error) error { return &url.Error{Op: "Get", URL: "http://h/b", Err: err} }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"refused", getErr(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), true},
		{"501 not implemented", &ResponseError{Status: 501, Code: "NotImplemented"}, false},
		{"500 internal error", &ResponseError{Status: 500, Code: "InternalError"}, true},
		{"closed before an answer", getErr(io.EOF), true},
		{"cut short", fmt.Errorf("read response: %w", io.ErrUnexpectedEOF), true},
		{"500", &ResponseError{Status: 500, Code: "InternalError"}, true},
		{"503 slow down", &ResponseError{Status: 503, Code: "SlowDown"}, true},
		{"expired credentials", &ResponseError{Status: 400, Code: "ExpiredToken"}, false},
		{"denied", &ResponseError{Status: 403, Code: "AccessDenied"}, false},
		{"unknown CA", getErr(x509.UnknownAuthorityError{}), false},
		{"host not found", getErr(&net.DNSError{Name: "h", IsNotFound: true}), false},
		{"malformed body", errors.New("parse ListObjectsV2 response: unexpected end"), false},
		{"interrupted", getErr(context.Canceled), false},
		{"nil", nil, false},
	}
	for _, tc := range cases {
		if got := IsUnavailable(tc.err); got != tc.want {
			t.Errorf("%s: IsUnavailable = %v, want %v", tc.name, got, tc.want)
		}
	}
}
