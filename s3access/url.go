package s3access

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ParseURL splits s3://BUCKET[/PREFIX] into bucket and prefix. The prefix
// is taken as written (S3 prefixes are plain string prefixes, so
// "s3://b/logs" also matches "logs-old/x"; write "s3://b/logs/" for a folder).
func ParseURL(raw string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(raw, "s3://")
	if !ok {
		if strings.Contains(raw, "://") {
			return "", "", &UsageError{Msg: fmt.Sprintf("%q is not an s3:// URL (want s3://BUCKET[/PREFIX])", raw)}
		}
		// The example is quoted too: raw may hold a newline (fuzzing found it).
		return "", "", &UsageError{Msg: fmt.Sprintf("%q is not an s3:// URL (want s3://BUCKET[/PREFIX], e.g. %q)", raw, "s3://"+strings.TrimPrefix(raw, "/"))}
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if err := ValidateBucketName(bucket); err != nil {
		return "", "", err
	}
	// No key could match such a prefix: say so rather than report an
	// empty bucket.
	switch {
	case !utf8.ValidString(prefix):
		return "", "", &UsageError{Msg: fmt.Sprintf("prefix %q is not valid UTF-8, which every S3 key is", prefix)}
	case len(prefix) > maxKeyLength:
		return "", "", &UsageError{Msg: fmt.Sprintf("prefix is %d bytes long; S3 keys are at most %d", len(prefix), maxKeyLength)}
	}
	return bucket, prefix, nil
}

// maxKeyLength is S3's limit on a key's length in bytes.
const maxKeyLength = 1024

// ValidateBucketName checks a bucket name against S3's rules, also
// accepting the uppercase letters and underscores of legacy us-east-1 names.
func ValidateBucketName(name string) error {
	bad := func(why string) error {
		return &UsageError{Msg: fmt.Sprintf("invalid bucket name %q: %s", name, why)}
	}
	switch {
	case name == "":
		return &UsageError{Msg: "no bucket name given (want s3://BUCKET[/PREFIX])"}
	case len(name) < 3:
		return bad("shorter than 3 characters")
	case len(name) > 255:
		return bad("longer than 255 characters")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-':
		case c >= 'A' && c <= 'Z', c == '_':
		default:
			return bad(fmt.Sprintf("character %q is not allowed (letters, digits, '.', '-')", c))
		}
	}
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return bad("must begin and end with a letter or digit")
	}
	if strings.Contains(name, "..") {
		return bad("two adjacent periods")
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
