package plan

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode"
)

// ValidateGlob reports whether glob is a path glob a plan may list, and why
// not. It checks the glob as written; Parse also accepts the two shorthands
// a trailing "/" and a leading "./" (see the package documentation) and
// stores the expanded form, which ValidateGlob accepts.
func ValidateGlob(glob string) error {
	if glob == "" {
		return errors.New("empty path")
	}
	for _, r := range glob {
		switch {
		case r == 0:
			return errors.New("path contains a NUL character")
		case unicode.IsControl(r):
			return fmt.Errorf("path contains the control character %U", r)
		case r == '\\':
			return errors.New("path contains a backslash; use forward slashes")
		}
	}
	if strings.HasPrefix(glob, "/") {
		return errors.New("path is absolute; list paths relative to the repository root")
	}
	for seg := range strings.SplitSeq(glob, "/") {
		switch {
		case seg == "":
			return errors.New("path has an empty segment (//) or a trailing slash")
		case seg == "..":
			return errors.New("path contains a .. segment")
		case seg == ".":
			return errors.New("path contains a . segment")
		case seg == "**":
			continue
		case strings.Contains(seg, "**"):
			return fmt.Errorf("** must be a whole path segment, as in dir/**/file (got %q)", seg)
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("malformed pattern %q (check [ ] classes)", seg)
		}
	}
	return nil
}

// normaliseGlob applies the shorthands Parse accepts: a leading "./" is
// dropped and a trailing "/" becomes "/**".
func normaliseGlob(glob string) string {
	for strings.HasPrefix(glob, "./") {
		glob = strings.TrimPrefix(glob, "./")
	}
	if strings.HasSuffix(glob, "/") && strings.Trim(glob, "/") != "" {
		glob = strings.TrimRight(glob, "/") + "/**"
	}
	return glob
}

// Match reports whether the repository path name (relative, slash
// separated, as git prints it) matches glob. A glob that ValidateGlob
// rejects matches nothing, and so does a name that is absolute or has
// empty, "." or ".." segments: a malformed entry never widens what a plan
// allows.
func Match(glob, name string) bool {
	if ValidateGlob(glob) != nil || name == "" || strings.HasPrefix(name, "/") {
		return false
	}
	names := strings.Split(name, "/")
	for _, n := range names {
		if n == "" || n == "." || n == ".." {
			return false
		}
	}
	return matchSegments(strings.Split(glob, "/"), names)
}

// matchSegments matches pattern segments against name segments; "**"
// matches zero or more whole segments.
func matchSegments(pats, names []string) bool {
	for len(pats) > 0 {
		if pats[0] == "**" {
			// Collapse consecutive ** segments; they mean the same thing.
			for len(pats) > 0 && pats[0] == "**" {
				pats = pats[1:]
			}
			if len(pats) == 0 {
				return true
			}
			for i := 0; i <= len(names); i++ {
				if matchSegments(pats, names[i:]) {
					return true
				}
			}
			return false
		}
		if len(names) == 0 {
			return false
		}
		if ok, err := path.Match(pats[0], names[0]); err != nil || !ok {
			return false
		}
		pats, names = pats[1:], names[1:]
	}
	return len(names) == 0
}
