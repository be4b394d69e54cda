package s3access

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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

// IsNotFound reports that the key or version no longer exists: only the
// codes that say so. A bare 404, or another code, is not proof (MinIO
// answers 404 for versions behind a delete marker): it stays an error
// with the server's code.
func IsNotFound(err error) bool {
	switch ErrorCode(err) {
	case "NoSuchKey", "NoSuchVersion":
		return true
	}
	return false
}

// IsNotImplemented reports a server that does not implement the request
// (501 NotImplemented): a definite answer, the same for every object,
// that no wait or retry changes. (405 MethodNotAllowed is not: S3 gives it
// for one object, a delete marker.)
func IsNotImplemented(err error) bool {
	return ErrorCode(err) == "NotImplemented" || HTTPStatus(err) == http.StatusNotImplemented
}

// IsUnavailable reports a failure that says the endpoint is not serving
// now, which waiting may cure: no answer (connection refused, reset or
// closed, a timeout) or a 5xx answer other than 501 Not Implemented.
// Answers about the request (4xx), certificates, unknown host names and
// malformed bodies are not.
func IsUnavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if status := HTTPStatus(err); status != 0 {
		return status >= 500 && !IsNotImplemented(err)
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
// one line that tells the user what to do, pointing at settings the way
// spell says. what names the operation and the target, e.g. `list
// s3://bucket/prefix`.
func Explain(what string, err error, spell Spelling) string {
	if err == nil {
		return ""
	}
	if spell == nil {
		spell = PlainSpelling
	}
	if msg := explainAnswer(err, spell); msg != "" {
		return what + ": " + msg
	}
	if msg := explainConnection(err, spell); msg != "" {
		return what + ": " + msg
	}
	var usage *UsageError
	if errors.As(err, &usage) {
		return what + ": " + usage.Explain(spell)
	}
	if code := ErrorCode(err); code != "" {
		var apiErr smithy.APIError
		errors.As(err, &apiErr)
		// Servers end their messages with a period; the line goes on.
		if msg := strings.TrimRight(apiErr.ErrorMessage(), ". "); msg != "" {
			return fmt.Sprintf("%s: %s: %s", what, code, msg)
		}
		return fmt.Sprintf("%s: %s (HTTP %d)", what, code, HTTPStatus(err))
	}
	return fmt.Sprintf("%s: %v", what, err)
}

// explainAnswer explains the error answers of S3 that have a remedy, or
// returns "".
func explainAnswer(err error, spell Spelling) string {
	code := ErrorCode(err)
	switch code {
	case "NoSuchBucket":
		return fmt.Sprintf("the bucket does not exist (check its name, %s and %s)", spell(SettingEndpoint, ""), spell(SettingRegion, ""))
	case "AccessDenied", "AllAccessDisabled":
		return fmt.Sprintf("access denied (the identity needs s3:ListBucket, s3:GetObjectAcl and s3:GetBucketAcl; with %s also s3:ListBucketVersions and s3:GetObjectVersionAcl)", spell(SettingAllVersions, ""))
	case "InvalidAccessKeyId":
		return fmt.Sprintf("the access key ID is not known to the server (check the credentials, %s and %s)", spell(SettingProfile, ""), spell(SettingEndpoint, ""))
	case "SignatureDoesNotMatch":
		return "the request signature does not match (wrong secret access key?)"
	case "ExpiredToken", "TokenRefreshRequired", "RequestExpired":
		return "the credentials have expired (refresh them, e.g. aws sso login)"
	case "InvalidToken":
		return "the session token is invalid (check AWS_SESSION_TOKEN)"
	case "PermanentRedirect", "TemporaryRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
		if region := bucketRegion(err); region != "" {
			return fmt.Sprintf("the bucket is in region %s; use %s", region, spell(SettingRegion, region))
		}
		return fmt.Sprintf("the bucket is in another region; set it with %s", spell(SettingRegion, ""))
	case "NotImplemented":
		return fmt.Sprintf("the server does not implement %s (501 NotImplemented): it cannot report ACLs this way, so aclscan cannot judge them on this server", operationName(err))
	case "SlowDown", "ServiceUnavailable", "InternalError":
		return fmt.Sprintf("the server is overloaded or failing (%s) after retries; try again or lower %s", code, spell(SettingConcurrency, ""))
	}
	if strings.Contains(err.Error(), "failed to retrieve credentials") ||
		strings.Contains(err.Error(), "no EC2 IMDS role found") {
		return fmt.Sprintf("no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, use %s, or run where a role is attached)", spell(SettingProfile, ""))
	}
	return ""
}

// operationName is the S3 operation err failed in ("this request" when
// unknown).
func operationName(err error) string {
	var lean *OperationError
	var sdk *smithy.OperationError
	switch {
	case errors.As(err, &lean):
		return lean.Op
	case errors.As(err, &sdk):
		return sdk.OperationName
	}
	return "this request"
}

// bucketRegion is the region an answer names for the bucket, or "".
func bucketRegion(err error) string {
	var respErr *awshttp.ResponseError
	var leanErr *ResponseError
	switch {
	case errors.As(err, &respErr) && respErr.Response != nil:
		return respErr.Response.Header.Get("X-Amz-Bucket-Region")
	case errors.As(err, &leanErr):
		return leanErr.Region
	}
	return ""
}

// explainConnection explains failures below S3's answers (TLS, the
// connection, name resolution), or returns "".
func explainConnection(err error, spell Spelling) string {
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var certInvalid x509.CertificateInvalidError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &unknownAuthority):
		return fmt.Sprintf("the server's TLS certificate is signed by an unknown CA (use %s)", spell(SettingCABundle, "FILE"))
	case errors.As(err, &hostnameErr):
		return fmt.Sprintf("the server's TLS certificate is not valid for this host (%v)", hostnameErr)
	case errors.As(err, &certInvalid):
		return fmt.Sprintf("the server's TLS certificate is invalid (%v)", certInvalid)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("connection refused: nothing listens at the endpoint (check %s)", spell(SettingEndpoint, ""))
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "answers were cut short after retries (the connection closed mid-answer); try again later"
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), isIdleConnClosed(err):
		return "the connection closed before any answer after retries (the server, or a proxy or load balancer in front of it, is down or restarting); try again later"
	case errors.Is(err, errNotS3):
		return fmt.Sprintf("the endpoint answered with an HTML page, not S3's XML (a proxy, a captive portal, or the wrong %s?)", spell(SettingEndpoint, ""))
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("cannot resolve host %q (check %s and the network)", dnsErr.Name, spell(SettingEndpoint, ""))
	}
	return ""
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
