package policy

import (
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// derive computes input.derived (see Derived) from the input's files,
// config and plan. A fact whose globs fall outside safeGlob is left out,
// and the policies compute it from input.files with glob.match.
func derive(in *Input) *Derived {
	d := &Derived{}
	fs := in.Files

	if exclude, ok := compileGlobs(in.Config.Size.Exclude); ok {
		s := &DerivedSize{}
		var excluded []string
		excludedLines := 0
		for _, f := range fs {
			s.Lines += f.Additions + f.Deletions
			if exclude.match(f.Path) {
				excluded = append(excluded, f.Path)
				excludedLines += f.Additions + f.Deletions
			}
		}
		s.ExcludedFiles = len(distinct(excluded))
		s.Lines -= excludedLines
		s.Files = len(fs) - s.ExcludedFiles
		d.Size = s
	}

	te := in.Config.TestEvidence
	if te.RequireTestChanges {
		code, codeOK := compileGlobs(te.CodeGlobs)
		tests, testsOK := compileGlobs(te.TestGlobs)
		if codeOK && testsOK {
			var codeFiles, testFiles []string
			for _, f := range fs {
				if touches(tests, f) {
					testFiles = append(testFiles, f.Path)
				} else if len(te.CodeGlobs) == 0 || touches(code, f) {
					codeFiles = append(codeFiles, f.Path)
				}
			}
			d.TestEvidence = &DerivedTestEvidence{CodeFiles: len(distinct(codeFiles)), TestFiles: len(distinct(testFiles))}
		}
	}

	pp := &DerivedProtectedPaths{}
	if agents, ok := compileGlobs(in.Config.Protected.AgentsMayNotTouch); ok && !agents.none {
		pp.AgentsMayNotTouch = matchingPaths(agents, fs)
	}
	rules := make([][]string, len(in.Config.Protected.RequireApproval))
	for i, rule := range in.Config.Protected.RequireApproval {
		g, ok := compileGlobs(rule.Paths)
		if !ok {
			rules = nil
			break
		}
		if !g.none {
			rules[i] = matchingPaths(g, fs)
		}
	}
	if len(rules) > 0 {
		pp.RequireApproval = rules
	}
	d.ProtectedPaths = pp

	if in.Task != nil && in.Task.Plan != nil {
		if plan, ok := compileGlobs(in.Task.Plan.Paths); ok && !plan.none {
			outside := []string{}
			for _, f := range fs {
				for _, p := range [2]string{f.Path, f.PreviousPath} {
					if p != "" && !plan.match(p) {
						outside = append(outside, p)
					}
				}
			}
			d.PlanScope = &DerivedPlanScope{Outside: distinct(outside)}
		}
	}
	return d
}

// matchingPaths is lib.matching: the sorted, distinct paths and previous
// paths matching g (never nil).
func matchingPaths(g globList, fs []File) []string {
	out := []string{}
	for _, f := range fs {
		for _, p := range [2]string{f.Path, f.PreviousPath} {
			if p != "" && g.match(p) {
				out = append(out, p)
			}
		}
	}
	return distinct(out)
}

// touches is lib.touches: the file's path or previous path matches.
func touches(g globList, f File) bool {
	return g.match(f.Path) || (f.PreviousPath != "" && g.match(f.PreviousPath))
}

// distinct sorts paths and drops repeats.
func distinct(paths []string) []string {
	if len(paths) < 2 {
		return paths
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}

// globList is a list of configuration globs compiled to match exactly what
// glob.match(lib.glob_of(patterns), ["/"], path) matches.
type globList struct {
	none bool // no non-empty patterns: glob_of is undefined, nothing matches
	alts []globAlt
}

// globAlt is one brace alternative of a pattern, matched as MatchGlob
// matches it, after cheap tests every match passes.
type globAlt struct {
	literal        bool     // no wildcards: the path equals text
	text           string   // the alternative
	prefix, suffix string   // every matching path starts and ends with these
	contains       []string // and contains these
	segs           []globSegment
}

type globSegment struct {
	text    string
	any     bool // "**"
	literal bool // no "*" or "?": equality
}

func (g globList) match(name string) bool {
	for i := range g.alts {
		a := &g.alts[i]
		if a.literal {
			if name == a.text {
				return true
			}
			continue
		}
		if len(name) < len(a.prefix)+len(a.suffix) || !strings.HasPrefix(name, a.prefix) || !strings.HasSuffix(name, a.suffix) {
			continue
		}
		ok := true
		for _, c := range a.contains {
			if !strings.Contains(name, c) {
				ok = false
				break
			}
		}
		if ok && matchSegs(a.segs, name, false) {
			return true
		}
	}
	return false
}

// matchSegs is matchSegments(pat, strings.Split(name, "/")) without the
// split; done means no segments are left (as opposed to one empty one).
func matchSegs(pat []globSegment, name string, done bool) bool {
	for len(pat) > 0 {
		if pat[0].any {
			for {
				if matchSegs(pat[1:], name, done) {
					return true
				}
				if done {
					return false
				}
				if j := strings.IndexByte(name, '/'); j >= 0 {
					name = name[j+1:]
				} else {
					name, done = "", true
				}
			}
		}
		if done {
			return false
		}
		seg, rest, more := strings.Cut(name, "/")
		if pat[0].literal {
			if seg != pat[0].text {
				return false
			}
		} else if ok, _ := path.Match(pat[0].text, seg); !ok {
			return false
		}
		pat = pat[1:]
		if more {
			name = rest
		} else {
			name, done = "", true
		}
	}
	return done
}

// globLists caches compiled lists by their patterns (a config's few lists
// recur in every evaluation); it is emptied when it reaches maxGlobLists.
var globLists struct {
	sync.Mutex
	m map[string]globListEntry
}

type globListEntry struct {
	g  globList
	ok bool
}

const maxGlobLists = 1024

// compileGlobs compiles patterns; ok is false when one of them is outside
// safeGlob, and the caller leaves the fact to Rego.
func compileGlobs(patterns []string) (globList, bool) {
	var b strings.Builder
	for _, p := range patterns {
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteByte(':')
		b.WriteString(p)
	}
	key := b.String()
	globLists.Lock()
	defer globLists.Unlock()
	if e, ok := globLists.m[key]; ok {
		return e.g, e.ok
	}
	if globLists.m == nil || len(globLists.m) >= maxGlobLists {
		globLists.m = map[string]globListEntry{}
	}
	g, ok := compileGlobList(patterns)
	globLists.m[key] = globListEntry{g, ok}
	return g, ok
}

func compileGlobList(patterns []string) (globList, bool) {
	var g globList
	for _, p := range patterns {
		if p == "" {
			continue // glob_of skips them
		}
		if !safeGlob(p) {
			return globList{}, false
		}
		alts, err := expandBraces(p)
		if err != nil {
			return globList{}, false
		}
		for _, alt := range alts {
			g.alts = append(g.alts, compileAlt(alt))
		}
	}
	g.none = len(g.alts) == 0
	return g, true
}

func compileAlt(alt string) globAlt {
	a := globAlt{text: alt}
	first := strings.IndexAny(alt, "*?")
	if first < 0 {
		a.literal = true
		return a
	}
	for _, seg := range strings.Split(alt, "/") {
		if seg == "**" && len(a.segs) > 0 && a.segs[len(a.segs)-1].any {
			continue // "**/**" is "**" (safeGlob refuses it anyway)
		}
		a.segs = append(a.segs, globSegment{text: seg, any: seg == "**", literal: !strings.ContainsAny(seg, "*?")})
	}
	// The literal text between wildcards, less a "/" next to a "**"
	// segment (which matches zero segments too): "**/test/**" needs "test".
	for _, c := range strings.FieldsFunc(alt, func(r rune) bool { return r == '*' || r == '?' }) {
		if c = strings.Trim(c, "/"); c != "" {
			a.contains = append(a.contains, c)
		}
	}
	a.prefix = alt[:first]
	if strings.HasPrefix(alt[first:], "**") {
		// "a/**" matches "a" too: the "/" before "**" is optional.
		a.prefix = strings.TrimSuffix(a.prefix, "/")
	}
	last := strings.LastIndexAny(alt, "*?")
	a.suffix = alt[last+1:]
	if last > 0 && alt[last-1] == '*' && alt[last] == '*' {
		// "**/x" matches "x" too.
		a.suffix = strings.TrimPrefix(a.suffix, "/")
	}
	return a
}

// safeGlob reports whether p is in the subset of ValidGlob's syntax where
// MatchGlob and glob.match(lib.glob_of([p]), ["/"], path) (gobwas/glob,
// after glob_of's rewriting of "**" segments) are known to agree
// (TestDerivedGlobsMatchRego checks it): valid UTF-8, no character classes
// or escapes (gobwas negates with "[!", path.Match with "[^"), no commas
// outside braces (glob_of joins the patterns with commas), and every "**"
// a whole segment outside braces and not next to another "**" (glob_of
// rewrites "/**/", a leading "**/" and a trailing "/**" textually).
func safeGlob(p string) bool {
	if !utf8.ValidString(p) || ValidGlob(p) != nil || strings.ContainsAny(p, "[]\\") || strings.Contains(p, "**/**") {
		return false
	}
	depth := 0
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '{':
			depth++
			if depth > 1 {
				return false
			}
		case '}':
			depth--
		case ',':
			if depth == 0 {
				return false
			}
		case '*':
			if i+1 < len(p) && p[i+1] == '*' {
				if depth > 0 || (i > 0 && p[i-1] != '/') || (i+2 < len(p) && p[i+2] != '/') {
					return false
				}
				i++
			}
		}
	}
	return true
}
