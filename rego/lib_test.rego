package agentgate.lib_test

import data.agentgate.lib

test_double_star_matches_zero_segments if {
	lib.matches_any(["**/*.go"], "main.go")
	lib.matches_any(["**/*.go"], "a/b/main.go")
	lib.matches_any(["docs/**"], "docs/a/b.md")
	lib.matches_any(["docs/**"], "docs")
	lib.matches_any(["a/**/b"], "a/b")
	lib.matches_any(["a/**/b"], "a/x/y/b")
	lib.matches_any(["**/vendor/**"], "vendor/x.go")
	lib.matches_any(["**/vendor/**"], "x/vendor/y/z.go")
}

test_single_star_stays_in_segment if {
	lib.matches_any(["*.go"], "main.go")
	not lib.matches_any(["*.go"], "a/main.go")
	not lib.matches_any(["docs/*"], "docs/a/b.md")
}

test_alternatives_and_lists if {
	lib.matches_any(["x", "{a,b}.go"], "b.go")
	lib.matches_any(["vendor/**", "**/*.lock"], "yarn.lock")
	not lib.matches_any(["vendor/**", "**/*.lock"], "vendorx/a.go")
}

test_no_patterns_match_nothing if {
	not lib.matches_any([], "a.go")
	not lib.matches_any(null, "a.go")
	not lib.matches_any([""], "a.go")
}
