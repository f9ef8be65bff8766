package ghapp

import (
	"strings"
)

// EndpointClass turns a request path into a bounded metric label: the REST
// path with owner, repo, numbers, SHAs and opaque codes replaced by
// placeholders, e.g. "/repos/{owner}/{repo}/pulls/{n}/files". A GHES
// "/api/v3" prefix is dropped so classes match across hosts.
func EndpointClass(path string) string {
	path = strings.TrimPrefix(path, "/api/v3")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) == 1 && parts[0] == "" {
		return "/"
	}
	for i, p := range parts {
		switch {
		case i > 0 && parts[0] == "repos" && i <= 2:
			parts[i] = [...]string{"", "{owner}", "{repo}"}[i]
		case i > 0 && (parts[0] == "orgs" || parts[0] == "users") && i == 1:
			parts[i] = "{" + strings.TrimSuffix(parts[0], "s") + "}"
		case i == 1 && parts[0] == "app-manifests":
			parts[i] = "{code}"
		case isNumber(p):
			parts[i] = "{n}"
		case len(p) == 40 && isHex(p):
			parts[i] = "{sha}"
		case i > 0 && (parts[i-1] == "git" || parts[i-1] == "refs" || parts[i-1] == "contents" || parts[i-1] == "labels" || parts[i-1] == "branches"):
			// Everything after these is a user-chosen name or path.
			parts = append(parts[:i], "{name}")
			return "/" + strings.Join(parts, "/")
		}
	}
	return "/" + strings.Join(parts, "/")
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
