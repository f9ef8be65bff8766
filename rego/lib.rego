# METADATA
# title: agentgate policy helpers
# description: |
#   Helpers shared by the default policies (and usable by a repository's own
#   policies under agentgate.repo.*). Globs use glob.match with "/" as the
#   delimiter: "*" stays within one path segment, "**" crosses segments, so
#   "docs/**" matches every file under docs/ and "**/*.md" needs a directory
#   ("*.md" or "{*.md,**/*.md}" for the root too).
package agentgate.lib

# disabled(name) is true when input.config.disabled_policies lists name.
disabled(name) if {
	some n in input.config.disabled_policies
	n == name
}

# glob_of(patterns) is one glob.match pattern, "{p1,p2,...}", matching what
# any of the configuration's globs matches, so a file costs one glob.match
# whatever the number of patterns. As in policy.MatchGlob, "**" as a whole
# segment matches zero segments too: "**/*.go" matches "main.go" and
# "docs/**" matches "docs". Undefined when there are no patterns (nothing
# matches).
glob_of(patterns) := concat("", ["{", concat(",", alts), "}"]) if {
	alts := [zero_segments(p) | some p in patterns; is_string(p); p != ""]
	count(alts) > 0
}

zero_segments(p) := leading(trailing(replace(p, "/**/", "{/,/**/}")))

leading(p) := concat("", ["{,**/}", substring(p, 3, -1)]) if startswith(p, "**/")

else := p

trailing(p) := concat("", [substring(p, 0, count(p) - 3), "{,/**}"]) if endswith(p, "/**")

else := p

# matches(g, path) is true when path matches the pattern glob_of(...) made.
matches(g, path) if glob.match(g, ["/"], path)

# matches_any(patterns, path) is true when path matches one of the globs
# (for one-off tests; in a loop over files, build glob_of(patterns) once).
matches_any(patterns, path) if matches(glob_of(patterns), path)

# changed_paths is every path the pull request touches: each file's path
# and, for a rename or copy, its previous path. Policies match their globs
# against this set once (matching) rather than calling functions per file.
changed_paths := {f.path | some f in input.files} | {f.previous_path | some f in input.files; f.previous_path != ""}

# matching(g) is the subset of changed_paths matching the glob_of(...) g.
matching(g) := {p | some p in changed_paths; glob.match(g, ["/"], p)}

# touched(f, ps) is true when the file's path or previous path is in ps.
touched(f, ps) if ps[f.path]

touched(f, ps) if ps[f.previous_path]

# paths(f) is the file's path and, for a rename or copy, its previous path:
# moving a file out of (or into) a guarded place counts as touching it.
paths(f) := {f.path, f.previous_path} if {
	is_string(f.previous_path)
	f.previous_path != ""
} else := {f.path}

# touches(g, f) is true when the file's path or previous path matches the
# pattern glob_of(...) made.
touches(g, f) if matches(g, f.path)

touches(g, f) if {
	is_string(f.previous_path)
	f.previous_path != ""
	matches(g, f.previous_path)
}

# file_violation builds a violation annotated on the file (and its first
# changed line when the input knows it).
file_violation(f, msg) := {"message": msg, "file": f.path, "line": f.first_line} if {
	is_number(f.first_line)
	f.first_line > 0
} else := {"message": msg, "file": f.path}

# positive(x) is x when it is a number above zero: 0 or a missing limit
# means "no limit".
positive(x) := x if {
	is_number(x)
	x > 0
}

# list(x) is x when it is an array and [] otherwise (a Go nil slice arrives
# as null), so count() never meets null.
list(x) := x if is_array(x)

else := []
