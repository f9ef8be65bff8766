package gitexec

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Remote is where a repository is fetched from and pushed to. Token is an
// installation token (or "" for a remote that needs none, such as a local
// path); pass it to git as Cmd.Token, never in the URL.
type Remote struct {
	URL   string
	Token string
}

// String is the remote's URL without any user information in it, fit for
// errors and logs.
func (r Remote) String() string { return redactURL(r.URL) }

// Check refuses URLs git would read as an option, and credentials in the
// URL (they belong in Token, which git sees only in its environment).
func (r Remote) Check() error {
	if r.URL == "" {
		return errors.New("remote has no URL")
	}
	if strings.HasPrefix(r.URL, "-") {
		return fmt.Errorf("remote URL %q starts with '-'", r.URL)
	}
	if u, err := url.Parse(r.URL); err == nil && u.User != nil {
		return fmt.Errorf("remote URL %s carries credentials; pass the token separately", redactURL(r.URL))
	}
	return nil
}

// Redact replaces token, in every form git may be given or repeat it, in
// s: for text taken from git's raw output, which Run does not redact (an
// Error's fields are redacted already).
func Redact(s, token string) string { return redact(s, secrets(token)) }

// authEnv is the environment that hands the token to git: an
// http.extraHeader through GIT_CONFIG_COUNT / GIT_CONFIG_KEY_n /
// GIT_CONFIG_VALUE_n, which, unlike -c, does not show in argv.
func authEnv(token string) []string {
	if token == "" {
		return nil
	}
	return []string{
		"GIT_CONFIG_COUNT=1",
		"GIT_CONFIG_KEY_0=http.extraHeader",
		"GIT_CONFIG_VALUE_0=Authorization: Basic " + basicAuth(token),
	}
}

// secrets are the strings that must not leave this package.
func secrets(token string) []string {
	if token == "" {
		return nil
	}
	return []string{token, basicAuth(token)}
}

// basicAuth is how GitHub takes an installation token over HTTP.
func basicAuth(token string) string {
	return base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
}

// redact replaces every secret in s.
func redact(s string, secrets []string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

// redactURL drops user information from a URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}
