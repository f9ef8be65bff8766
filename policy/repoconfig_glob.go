package policy

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// maxAlternatives bounds brace expansion, so a glob cannot blow up.
const maxAlternatives = 64

// ValidGlob checks a path glob of the configuration. Globs match paths
// relative to the repository root, segment by segment: "*", "?" and
// "[...]" as in path.Match within a segment, "**" only as a whole segment
// (any number of segments), and "{a,b}" alternatives. This is the common
// ground of doublestar-style matchers and OPA's glob.match with "/" as the
// delimiter; patterns whose meaning differs between them (such as "a**b")
// are refused.
func ValidGlob(pattern string) error {
	switch {
	case pattern == "":
		return errors.New("empty glob")
	case strings.HasPrefix(pattern, "/"):
		return errors.New("globs are relative to the repository root: remove the leading /")
	}
	alts, err := expandBraces(pattern)
	if err != nil {
		return err
	}
	for _, alt := range alts {
		if err := validSegments(alt); err != nil {
			return err
		}
	}
	return nil
}

func validSegments(pattern string) error {
	for _, seg := range strings.Split(pattern, "/") {
		switch {
		case seg == "":
			return errors.New("empty path segment (use dir/** for everything under dir)")
		case seg == "**":
		case strings.Contains(seg, "**"):
			return errors.New(`"**" must be a whole path segment, as in "**/x" or "x/**"`)
		default:
			if _, err := path.Match(seg, ""); err != nil {
				return errors.New("malformed glob: " + err.Error())
			}
		}
	}
	return nil
}

// MatchGlob reports whether name (a slash-separated path relative to the
// repository root) matches a glob ValidGlob accepts; malformed globs match
// nothing.
func MatchGlob(pattern, name string) bool {
	if ValidGlob(pattern) != nil {
		return false
	}
	alts, _ := expandBraces(pattern)
	for _, alt := range alts {
		var pat []string
		for _, seg := range strings.Split(alt, "/") {
			if seg != "**" || len(pat) == 0 || pat[len(pat)-1] != "**" { // "**/**" is "**"
				pat = append(pat, seg)
			}
		}
		if matchSegments(pat, strings.Split(name, "/")) {
			return true
		}
	}
	return false
}

// expandBraces expands "{a,b}" alternatives (nested ones too) into plain
// patterns; a backslash escapes the next character.
func expandBraces(p string) ([]string, error) {
	open, depth := -1, 0
	var commas []int
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '{':
			if depth == 0 {
				open = i
			}
			depth++
		case ',':
			if depth == 1 {
				commas = append(commas, i)
			}
		case '}':
			depth--
			if depth < 0 {
				return nil, errors.New("unbalanced braces in glob")
			}
			if depth > 0 {
				continue
			}
			var out []string
			start := open + 1
			for _, c := range append(commas, i) {
				rest, err := expandBraces(p[:open] + p[start:c] + p[i+1:])
				if err != nil {
					return nil, err
				}
				out = append(out, rest...)
				if len(out) > maxAlternatives {
					return nil, fmt.Errorf("more than %d brace alternatives in glob", maxAlternatives)
				}
				start = c + 1
			}
			return out, nil
		}
	}
	if depth != 0 {
		return nil, errors.New("unbalanced braces in glob")
	}
	return []string{p}, nil
}

func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if matchSegments(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}
