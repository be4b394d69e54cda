package s3access

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// ErrorCode returns the S3 error code of err ("AccessDenied", "NoSuchKey",
// ...), or "" when err is not an answer from the service.
func ErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// HTTPStatus returns the HTTP status of the response that caused err, or 0.
func HTTPStatus(err error) int {
	var withStatus interface{ HTTPStatusCode() int }
	if errors.As(err, &withStatus) {
		return withStatus.HTTPStatusCode()
	}
	return 0
}

// IsAccessDenied reports an AccessDenied answer (403).
func IsAccessDenied(err error) bool {
	code := ErrorCode(err)
	return code == "AccessDenied" || (code == "" && HTTPStatus(err) == 403)
}

// IsNotFound reports that the key or version no longer exists.
func IsNotFound(err error) bool {
	switch ErrorCode(err) {
	case "NoSuchKey", "NoSuchVersion", "NotFound":
		return true
	}
	return false
}

// IsUnavailable reports a failure that says the endpoint is not serving
// now, which waiting may cure: no answer (connection refused, reset or
// closed, a timeout) or a 5xx answer. Answers about the request (4xx),
// certificates, unknown host names and malformed bodies are not.
func IsUnavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if status := HTTPStatus(err); status != 0 {
		return status >= 500
	}
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var certInvalid x509.CertificateInvalidError
	var dnsErr *net.DNSError
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostnameErr) || errors.As(err, &certInvalid) ||
		(errors.As(err, &dnsErr) && dnsErr.IsNotFound) {
		return false
	}
	var urlErr *url.Error
	var netErr net.Error
	return errors.As(err, &urlErr) || errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Explain turns an error from a bucket-level call (list, bucket ACL) into
// one line that tells the user what to do. what names the operation and
// the target, e.g. `list s3://bucket/prefix`.
func Explain(what string, err error) string {
	if err == nil {
		return ""
	}
	code := ErrorCode(err)
	switch code {
	case "NoSuchBucket":
		return fmt.Sprintf("%s: the bucket does not exist (check its name, --endpoint-url and --region)", what)
	case "AccessDenied", "AllAccessDisabled":
		return fmt.Sprintf("%s: access denied (the identity needs s3:ListBucket, s3:GetObjectAcl and s3:GetBucketAcl; with --all-versions also s3:ListBucketVersions and s3:GetObjectVersionAcl)", what)
	case "InvalidAccessKeyId":
		return fmt.Sprintf("%s: the access key ID is not known to the server (check AWS_ACCESS_KEY_ID, --profile and --endpoint-url)", what)
	case "SignatureDoesNotMatch":
		return fmt.Sprintf("%s: the request signature does not match (wrong secret access key?)", what)
	case "ExpiredToken", "TokenRefreshRequired", "RequestExpired":
		return fmt.Sprintf("%s: the credentials have expired (refresh them, e.g. aws sso login)", what)
	case "InvalidToken":
		return fmt.Sprintf("%s: the session token is invalid (check AWS_SESSION_TOKEN)", what)
	case "PermanentRedirect", "TemporaryRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
		region := ""
		var respErr *awshttp.ResponseError
		var leanErr *ResponseError
		switch {
		case errors.As(err, &respErr) && respErr.Response != nil:
			region = respErr.Response.Header.Get("X-Amz-Bucket-Region")
		case errors.As(err, &leanErr):
			region = leanErr.Region
		}
		if region != "" {
			return fmt.Sprintf("%s: the bucket is in region %s; pass --region %s", what, region, region)
		}
		return fmt.Sprintf("%s: the bucket is in another region; pass --region", what)
	case "SlowDown", "ServiceUnavailable", "InternalError":
		return fmt.Sprintf("%s: the server is overloaded or failing (%s) after retries; try again or lower --concurrency", what, code)
	}
	if strings.Contains(err.Error(), "failed to retrieve credentials") ||
		strings.Contains(err.Error(), "no EC2 IMDS role found") {
		return fmt.Sprintf("%s: no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, use --profile, or run where a role is attached)", what)
	}
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var certInvalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknownAuthority):
		return fmt.Sprintf("%s: the server's TLS certificate is signed by an unknown CA (pass --ca-bundle FILE or set AWS_CA_BUNDLE)", what)
	case errors.As(err, &hostnameErr):
		return fmt.Sprintf("%s: the server's TLS certificate is not valid for this host (%v)", what, hostnameErr)
	case errors.As(err, &certInvalid):
		return fmt.Sprintf("%s: the server's TLS certificate is invalid (%v)", what, certInvalid)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("%s: connection refused: nothing listens at the endpoint (check --endpoint-url)", what)
	case errors.Is(err, context.Canceled):
		return fmt.Sprintf("%s: interrupted", what)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("%s: answers were cut short after retries (the connection closed mid-answer); try again later", what)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return fmt.Sprintf("%s: the connection closed before any answer after retries (the server, or a proxy or load balancer in front of it, is down or restarting); try again later", what)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Sprintf("%s: cannot resolve host %q (check --endpoint-url and the network)", what, dnsErr.Name)
	}
	if code != "" {
		var apiErr smithy.APIError
		errors.As(err, &apiErr)
		if msg := apiErr.ErrorMessage(); msg != "" {
			return fmt.Sprintf("%s: %s: %s", what, code, msg)
		}
		return fmt.Sprintf("%s: %s (HTTP %d)", what, code, HTTPStatus(err))
	}
	return fmt.Sprintf("%s: %v", what, err)
}

// Short is a compact, single-line reason for a per-object error record.
func Short(err error) string {
	if code := ErrorCode(err); code != "" {
		if status := HTTPStatus(err); status != 0 {
			return fmt.Sprintf("%s (HTTP %d)", code, status)
		}
		return code
	}
	msg := err.Error()
	// The SDK prefixes "operation error S3: GetObjectAcl, https response
	// error ..."; keep the cause, which is what the user can act on.
	if i := strings.LastIndex(msg, ", "); i >= 0 && strings.HasPrefix(msg, "operation error") {
		msg = msg[i+2:]
	}
	return strings.ReplaceAll(msg, "\n", " ")
}
