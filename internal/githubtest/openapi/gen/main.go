// Command gen cuts GitHub's REST API description down to the operations the fake serves.
//
// GitHub publishes its description in the npm package @octokit/openapi (13 MB for
// api.github.com). The fake only needs a few dozen operations, so this keeps the operations
// listed in operations.txt and every component they reference, transitively, and writes a
// compact JSON document that is committed next to operations.txt. The npm version is
// recorded in info.version and in the VERSION file.
//
// Regenerate (from the repository root):
//
//	mkdir -p /tmp/octokit-openapi && cd /tmp/octokit-openapi && npm install @octokit/openapi@VERSION
//	cd - && go run ./internal/githubtest/openapi/gen \
//	    -in /tmp/octokit-openapi/node_modules/@octokit/openapi/generated/api.github.com.json \
//	    -ops internal/githubtest/openapi/operations.txt \
//	    -out internal/githubtest/openapi/api.github.com.json
//
// or `go generate ./internal/githubtest/...` with GITHUB_OPENAPI pointing at the file.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	in := flag.String("in", os.Getenv("GITHUB_OPENAPI"), "full description (generated/api.github.com.json of @octokit/openapi)")
	ops := flag.String("ops", "operations.txt", "operations to keep, one \"METHOD /path\" per line")
	out := flag.String("out", "api.github.com.json", "where to write the cut-down description")
	flag.Parse()
	if *in == "" {
		log.Fatal("gen: -in (or GITHUB_OPENAPI) is required")
	}
	if err := run(*in, *ops, *out); err != nil {
		log.Fatalf("gen: %v", err)
	}
}

// operation is a "METHOD /path" line, or a "SCHEMA name" line naming a component schema to
// keep on its own (the webhook payload schemas, which no operation references).
type operation struct{ method, path string }

func run(inPath, opsPath, outPath string) error {
	raw, err := os.ReadFile(inPath)
	if err != nil {
		return err
	}
	var full map[string]any
	if err := json.Unmarshal(raw, &full); err != nil {
		return fmt.Errorf("parse %s: %w", inPath, err)
	}
	wanted, err := readOperations(opsPath)
	if err != nil {
		return err
	}
	doc, err := cut(full, wanted)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	if err := os.WriteFile(outPath, buf.Bytes(), 0o644); err != nil {
		return err
	}
	version, _ := doc["info"].(map[string]any)["version"].(string)
	versionFile := filepath.Join(filepath.Dir(outPath), "VERSION")
	note := fmt.Sprintf("@octokit/openapi %s (generated/%s)\n", version, filepath.Base(inPath))
	if err := os.WriteFile(versionFile, []byte(note), 0o644); err != nil {
		return err
	}
	log.Printf("gen: kept %d operations and schemas, wrote %s (%d bytes), %s", len(wanted), outPath, buf.Len(), strings.TrimSpace(note))
	return nil
}

func readOperations(path string) ([]operation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ops []operation
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		method, p, ok := strings.Cut(line, " ")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not \"METHOD /path\"", path, line)
		}
		ops = append(ops, operation{strings.ToLower(method), strings.TrimSpace(p)})
	}
	return ops, sc.Err()
}

// cut builds the smaller document. Webhook descriptions (x-webhooks) and tags are dropped;
// the payload schemas of the webhooks the fake sends are kept by "SCHEMA name" lines.
func cut(full map[string]any, wanted []operation) (map[string]any, error) {
	paths, _ := full["paths"].(map[string]any)
	keptPaths := map[string]any{}
	var errs []error
	components, _ := full["components"].(map[string]any)
	var queue []string
	for _, op := range wanted {
		if op.method == "schema" {
			queue = append(queue, "#/components/schemas/"+op.path)
			continue
		}
		item, ok := paths[op.path].(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("no path %s", op.path))
			continue
		}
		o, ok := item[op.method]
		if !ok {
			errs = append(errs, fmt.Errorf("no operation %s %s", strings.ToUpper(op.method), op.path))
			continue
		}
		kept, _ := keptPaths[op.path].(map[string]any)
		if kept == nil {
			kept = map[string]any{}
			// Path-level fields (shared parameters) go with every operation of the path.
			for k, v := range item {
				switch k {
				case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				default:
					kept[k] = v
				}
			}
			keptPaths[op.path] = kept
		}
		kept[op.method] = o
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	keptComponents := map[string]any{}
	seen := map[string]bool{}
	collectRefs(keptPaths, &queue)
	for len(queue) > 0 {
		ref := queue[0]
		queue = queue[1:]
		if seen[ref] {
			continue
		}
		seen[ref] = true
		kind, name, ok := splitRef(ref)
		if !ok {
			return nil, fmt.Errorf("unsupported $ref %q", ref)
		}
		section, _ := components[kind].(map[string]any)
		v, ok := section[name]
		if !ok {
			return nil, fmt.Errorf("dangling $ref %q", ref)
		}
		dst, _ := keptComponents[kind].(map[string]any)
		if dst == nil {
			dst = map[string]any{}
			keptComponents[kind] = dst
		}
		dst[name] = v
		collectRefs(v, &queue)
	}

	doc := map[string]any{
		"openapi":    full["openapi"],
		"info":       full["info"],
		"servers":    full["servers"],
		"paths":      keptPaths,
		"components": keptComponents,
	}
	if ed, ok := full["externalDocs"]; ok {
		doc["externalDocs"] = ed
	}
	return doc, nil
}

// collectRefs appends every "$ref" found under v, in a stable order.
func collectRefs(v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if s, ok := v[k].(string); ok && k == "$ref" {
				*out = append(*out, s)
				continue
			}
			collectRefs(v[k], out)
		}
	case []any:
		for _, e := range v {
			collectRefs(e, out)
		}
	}
}

// splitRef splits "#/components/schemas/repository" into ("schemas", "repository").
func splitRef(ref string) (kind, name string, ok bool) {
	rest, ok := strings.CutPrefix(ref, "#/components/")
	if !ok {
		return "", "", false
	}
	kind, name, ok = strings.Cut(rest, "/")
	if !ok || strings.Contains(name, "/") {
		return "", "", false
	}
	return kind, name, true
}
