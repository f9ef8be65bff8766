# METADATA
# title: Size
# description: |
#   Agent pull requests stay reviewable: additions + deletions and the number
#   of changed files, not counting input.config.size.exclude (generated and
#   vendored paths), stay under max_lines and max_files. A limit of 0 (or none)
#   is no limit. applies_to "all" judges human pull requests too.
package agentgate.policies.size

import data.agentgate.lib

title := "Size"

default applies := false

applies if {
	not lib.disabled("size")
	in_scope
}

in_scope if input.agent_authored

in_scope if input.config.size.applies_to == "all"

exclude_glob := lib.glob_of(input.config.size.exclude)

# A complete set, computed once: looking a path up in a partial set
# (excluded contains ... if) would evaluate its rule again for every file.
excluded := {f.path | some f in input.files; glob.match(exclude_glob, ["/"], f.path)}

# Totals minus the excluded files' (no negation per file: it is slow).
excluded_lines := sum([n | some f in input.files; excluded[f.path]; n := f.additions + f.deletions])

# input.derived.size, when agentgate computed it, has the same totals (see
# rego/README.md): read them rather than match every file here.
lines := n if {
	n := input.derived.size.lines
	is_number(n)
} else := (sum([f.additions | some f in input.files]) + sum([f.deletions | some f in input.files])) - excluded_lines

files := n if {
	n := input.derived.size.files
	is_number(n)
} else := count(lib.list(input.files)) - count(excluded)

excluded_files := n if {
	n := input.derived.size.excluded_files
	is_number(n)
} else := count(excluded)

violations contains {"message": msg} if {
	applies
	most := lib.positive(input.config.size.max_lines)
	lines > most
	msg := sprintf("%d lines changed (additions + deletions%s); the limit is %d: split the pull request", [lines, excluded_note, most])
}

violations contains {"message": msg} if {
	applies
	most := lib.positive(input.config.size.max_files)
	files > most
	msg := sprintf("%d files changed%s; the limit is %d: split the pull request", [files, excluded_note, most])
}

excluded_note := sprintf(", not counting %d excluded files", [excluded_files]) if {
	excluded_files > 0
} else := ""

summary := sprintf("%d lines in %d files%s (limits %s lines, %s files)", [lines, files, excluded_note, limit(input.config.size.max_lines), limit(input.config.size.max_files)]) if {
	applies
} else := "disabled in .github/agentgate.yml" if {
	lib.disabled("size")
} else := "human-authored pull request (size applies to agent pull requests)"

limit(x) := format_int(lib.positive(x), 10) if lib.positive(x)

else := "no"
