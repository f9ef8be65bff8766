# METADATA
# title: Protected paths
# description: |
#   - Agent pull requests may not change input.config.protected_paths.
#     agents_may_not_touch (adding, editing, deleting, or renaming a file to or
#     from a protected path all count): one violation per file.
#   - Any pull request changing a require_approval rule's paths needs an
#     APPROVED review on the head commit by one of the rule's owners (a login,
#     or an org/team in the review's teams) who is neither the requester nor
#     the pull request's author; until then the verdict is action_required.
package agentgate.policies.protected_paths

import data.agentgate.lib

title := "Protected paths"

default applies := false

applies if {
	not lib.disabled("protected_paths")
	input.agent_authored
}

applies if {
	not lib.disabled("protected_paths")
	count(lib.list(object.get(input.config, ["protected_paths", "require_approval"], []))) > 0
}

violations contains lib.file_violation(f, message(f)) if {
	applies
	input.agent_authored
	count(blocked) > 0
	some f in input.files
	lib.touched(f, blocked)
}

message(f) := sprintf("agents may not rename protected path %s (to %s)", [f.previous_path, f.path]) if {
	f.status == "renamed"
	blocked[f.previous_path]
} else := sprintf("agents may not delete protected path %s", [f.path]) if {
	f.status == "removed"
} else := sprintf("agents may not change protected path %s", [f.path])

action_required contains {"message": msg, "file": f.path} if {
	applies
	some i, rule in input.config.protected_paths.require_approval
	ps := touched_by_rule[i]
	count(ps) > 0
	not approved(rule)
	some f in input.files
	lib.touched(f, ps)
	msg := sprintf("%s needs an approving review of the head commit from %s, who is not the requester or the author", [f.path, owners_text(rule.owners)])
}

agents_glob := lib.glob_of(input.config.protected_paths.agents_may_not_touch)

# The changed paths agents may not touch: input.derived's list when
# agentgate computed it (see rego/README.md).
blocked := {p | some p in ps} if {
	ps := input.derived.protected_paths.agents_may_not_touch
	is_array(ps)
} else := lib.matching(agents_glob)

owners_text(owners) := concat(" or ", owners) if count(lib.list(owners)) > 0

else := "an owner (none configured)"

approved(rule) if {
	some r in input.reviews
	r.state == "APPROVED"
	r.commit_id == input.pull_request.head.sha
	lower(r.user) != requester
	lower(r.user) != lower(input.pull_request.author.login)
	some owner in rule.owners
	owns(owner, r)
}

owns(owner, r) if lower(owner) == lower(r.user)

owns(owner, r) if {
	contains(owner, "/")
	some team in r.teams
	lower(team) == lower(owner)
}

# Nobody when the input names no requester.
requester := lower(object.get(input, ["requester", "login"], ""))

summary := "touches no protected paths" if {
	applies
	count(guarded) == 0
} else := sprintf("%d protected files, approved by their owners", [count(guarded)]) if {
	applies
} else := "disabled in .github/agentgate.yml" if {
	lib.disabled("protected_paths")
} else := "human-authored pull request and no paths need an owner's approval"

# The changed paths each require_approval rule guards, by rule index (no
# entry for a rule without globs).
touched_by_rule := {i: {p | some p in ps} | some i, ps in rules; is_array(ps)} if {
	rules := input.derived.protected_paths.require_approval
	is_array(rules)
} else := {i: lib.matching(lib.glob_of(rule.paths)) | some i, rule in input.config.protected_paths.require_approval}

guarded := {p | some ps in touched_by_rule; some p in ps}
