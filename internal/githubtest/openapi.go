package githubtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/agentgate/agentgate/internal/githubtest/openapi"
)

// Every API request is checked against GitHub's OpenAPI description (package openapi) with
// kin-openapi: the operation must exist, and path, query and JSON body must match their
// schemas. The fake answers what GitHub would (404 for an unknown operation, 422 for a bad
// parameter or body) and records a Violation, which fails the test at cleanup: agentgate
// must not depend on requests that only a lenient fake would accept.

// operationsRouter is built once per process from the shared, read-only document.
var operationsRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi.Load()
	if err != nil {
		return nil, err
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route GitHub's OpenAPI description: %w", err)
	}
	return r, nil
})

// descriptionGaps rewrite request bodies that GitHub accepts, and documents in prose, but
// that the description's schema does not allow, into the form the schema allows, before
// validation. Keep this list short: each entry is a place where the fake is more lenient
// than the description, justified only by GitHub's documented behaviour.
var descriptionGaps = map[string]func(body []byte) []byte{
	// "You can also pass an array of labels directly" (go-github's AddLabelsToIssue does).
	"POST /repos/{owner}/{repo}/issues/{issue_number}/labels": wrapArray("labels"),
}

// wrapArray turns a JSON array body into {"key": array}.
func wrapArray(key string) func([]byte) []byte {
	return func(body []byte) []byte {
		if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '[' {
			return []byte(`{"` + key + `":` + string(trimmed) + `}`)
		}
		return body
	}
}

// validateRequest checks parameters and body; on failure it answers 422 like GitHub.
func (s *Server) validateRequest(w http.ResponseWriter, r *http.Request, c *call) bool {
	r2 := r.Clone(r.Context())
	body := c.body
	if string(bytes.TrimSpace(body)) == "null" {
		// GitHub treats a JSON null body as no body; ghinstallation and go-github send
		// one for an optional body they have no value for.
		body = nil
	}
	if fix := descriptionGaps[c.req.Operation]; fix != nil {
		body = fix(body)
	}
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	if len(body) > 0 && r2.Header.Get("Content-Type") == "" {
		// GitHub parses a body as JSON whatever its Content-Type says.
		r2.Header.Set("Content-Type", "application/json")
	}
	err := openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
		Request:    r2,
		PathParams: c.pathParams,
		Route:      c.route,
		Options: &openapi3filter.Options{
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			MultiError:         true,
		},
	})
	if err == nil {
		return true
	}
	reason := describe(err)
	s.violation(c, r, false, reason)
	writeJSON(w, http.StatusUnprocessableEntity, apiError{
		Message:          "Invalid request.\n\n" + reason,
		DocumentationURL: docsURL,
		Status:           "422",
	})
	return false
}

// validateResponse checks the fake's own answer; a mismatch is a bug in the fake.
func (s *Server) validateResponse(r *http.Request, c *call, status int, h http.Header, body []byte) {
	err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    r,
			PathParams: c.pathParams,
			Route:      c.route,
		},
		Status: status,
		Header: h,
		Body:   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	})
	if err != nil {
		s.violation(c, r, true, describe(err))
	}
}

// describe shortens kin-openapi's errors, which embed whole schemas, to where and why.
func describe(err error) string {
	var parts []string
	var walk func(error, string)
	walk = func(err error, prefix string) {
		switch e := err.(type) {
		case openapi3.MultiError:
			for _, e := range e {
				walk(e, prefix)
			}
		case *openapi3filter.RequestError:
			p := prefix
			switch {
			case e.Parameter != nil:
				p += fmt.Sprintf("%s parameter %q: ", e.Parameter.In, e.Parameter.Name)
			case e.RequestBody != nil:
				p += "body: "
			}
			if e.Err == nil {
				parts = append(parts, p+e.Reason)
				return
			}
			walk(e.Err, p)
		case *openapi3filter.ResponseError:
			p := prefix + "response: "
			if e.Err == nil {
				parts = append(parts, p+e.Reason)
				return
			}
			if e.Reason != "" {
				p += e.Reason + ": "
			}
			walk(e.Err, p)
		case *openapi3.SchemaError:
			where := "/" + strings.Join(e.JSONPointer(), "/")
			if e.Origin != nil {
				// allOf/oneOf failures: the inner error says which field.
				walk(e.Origin, fmt.Sprintf("%sat %s: ", prefix, where))
				return
			}
			parts = append(parts, fmt.Sprintf("%sat %s: %s", prefix, where, e.Reason))
		default:
			parts = append(parts, prefix+err.Error())
		}
	}
	walk(err, "")
	if len(parts) > 3 {
		// A list of 100 bad items says the same thing 100 times.
		parts = append(parts[:3], fmt.Sprintf("and %d more", len(parts)-3))
	}
	return strings.Join(parts, "; ")
}

// multiSegment are the path parameters that the description marks x-multi-segment (they may
// hold slashes: GET .../contents/docs/a/b.md, DELETE .../git/refs/heads/agent/x), after
// /repos/{owner}/{repo}.
var multiSegment = map[string]string{"/contents/": "path", "/git/refs/": "ref"}

// findRoute matches the request to an operation. gorillamux's variables match one segment,
// so a multi-segment parameter is matched with a one-segment stand-in and put back.
func (s *Server) findRoute(r *http.Request) (*routers.Route, map[string]string, error) {
	parts := strings.SplitN(r.URL.Path, "/", 5) // "", "repos", owner, repo, rest
	if len(parts) == 5 && parts[1] == "repos" {
		for prefix, param := range multiSegment {
			value, ok := strings.CutPrefix("/"+parts[4], prefix)
			if !ok || !strings.Contains(value, "/") {
				continue
			}
			r2 := r.Clone(r.Context())
			r2.URL.Path = strings.Join(parts[:4], "/") + prefix + "_"
			r2.URL.RawPath = ""
			route, params, err := s.router.FindRoute(r2)
			if err != nil {
				return nil, nil, err
			}
			params[param] = value
			return route, params, nil
		}
	}
	return s.router.FindRoute(r)
}
