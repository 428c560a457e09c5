package api_test

import (
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestOpenAPIMatchesRoutes keeps the served spec and the router in step:
// every route is described, and nothing described is missing.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	b := setup(t)
	raw := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/openapi.yaml"}).Body
	var spec struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &spec); err != nil {
		t.Fatalf("spec is not YAML: %v", err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.") {
		t.Fatalf("openapi version = %q", spec.OpenAPI)
	}
	param := regexp.MustCompile(`[:*](\w+)`)
	var routes, described []string
	for _, r := range b.server.Routes() {
		routes = append(routes, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	for path, ops := range spec.Paths {
		for method, v := range ops {
			op, isOp := v.(map[string]any)
			if method == "parameters" || !isOp {
				continue
			}
			described = append(described, strings.ToUpper(method)+" "+path)
			if op["operationId"] == nil || op["summary"] == nil {
				t.Errorf("%s %s lacks operationId or summary", method, path)
			}
		}
	}
	sort.Strings(routes)
	sort.Strings(described)
	if strings.Join(routes, "\n") != strings.Join(described, "\n") {
		t.Fatalf("routes and spec differ\nroutes:\n%s\n\nspec:\n%s", strings.Join(routes, "\n"), strings.Join(described, "\n"))
	}
}
