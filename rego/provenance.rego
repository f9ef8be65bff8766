# METADATA
# title: Provenance
# description: |
#   An agent pull request carries a provenance block without parse errors,
#   with every input.config.provenance.required_fields present and non-empty.
package agentgate.policies.provenance

import data.agentgate.lib

title := "Provenance"

default applies := false

applies if {
	not lib.disabled("provenance")
	input.agent_authored
}

violations contains {"message": "agent pull request has no provenance block: add one to the description (agentgate writes it for its own runs)"} if {
	applies
	not input.provenance.present
}

violations contains v if {
	applies
	input.provenance.present
	some e in input.provenance.errors
	v := error_violation(e)
}

violations contains {"message": sprintf("provenance field %q is missing or empty", [name])} if {
	applies
	input.provenance.present
	some name in input.config.provenance.required_fields
	not filled_field(name)
}

# A parse error's line is a line of the pull request body, not of a file.
error_violation(e) := {"message": message(e), "line": e.line} if {
	is_number(e.line)
	e.line > 0
} else := {"message": message(e)}

message(e) := sprintf("provenance %s: %s", [e.field, e.message]) if {
	is_string(e.field)
	e.field != ""
} else := sprintf("provenance: %s", [e.message])

filled_field(name) if filled(input.provenance.fields[name])

filled(v) if {
	is_string(v)
	trim_space(v) != ""
}

filled(v) if is_number(v)

filled(v) if is_boolean(v)

filled(v) if {
	is_array(v)
	count(v) > 0
}

filled(v) if {
	is_object(v)
	count(v) > 0
}

summary := sprintf("provenance block with all %d required fields", [count(required)]) if {
	applies
} else := "disabled in .github/agentgate.yml" if {
	lib.disabled("provenance")
} else := "human-authored pull request (provenance applies to agent pull requests)"

required := {name | some name in input.config.provenance.required_fields}
