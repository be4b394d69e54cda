package s3access

import "fmt"

// Setting is something a user configures, named as the command line's
// flag is, without dashes. The library's messages point at settings
// through it and never in one shell's words: each shell spells them its
// own way (a flag, an environment variable, an event field).
type Setting string

// The settings the library's messages may point at.
const (
	SettingEndpoint    Setting = "endpoint-url"
	SettingRegion      Setting = "region"
	SettingProfile     Setting = "profile"
	SettingCABundle    Setting = "ca-bundle"
	SettingThrottling  Setting = "throttling"
	SettingConcurrency Setting = "concurrency"
	SettingAllVersions Setting = "all-versions"
)

// Spelling says how a shell's user sets s, to value if one is given: the
// command line answers "--region eu-west-1", a Lambda function
// "AWS_REGION=eu-west-1".
type Spelling func(s Setting, value string) string

// PlainSpelling names settings without a shell's syntax; it is what
// Error methods use.
func PlainSpelling(s Setting, value string) string {
	if value == "" {
		return "the " + string(s) + " setting"
	}
	return fmt.Sprintf("the %s setting %s", s, value)
}

// Explain is the error's message with the setting at fault spelled the
// shell's way.
func (e *UsageError) Explain(spell Spelling) string {
	if e.Setting == "" {
		return e.Msg
	}
	return spell(e.Setting, "") + ": " + e.Msg
}

func (e *UsageError) Error() string { return e.Explain(PlainSpelling) }
