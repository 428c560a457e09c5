package settings

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/problem"
)

// maxTemplate bounds a tenant's template, in bytes; maxRendered bounds
// what a template renders to (a template can expand exponentially).
const (
	maxTemplate = 32 << 10
	maxRendered = 256 << 10
)

// errTooLong stops a render that passes maxRendered.
var errTooLong = fmt.Errorf("the rendered prompt is longer than %d KiB", maxRendered>>10)

// cappedBuilder is a strings.Builder that refuses to grow past maxRendered.
type cappedBuilder struct{ strings.Builder }

func (b *cappedBuilder) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxRendered {
		return 0, errTooLong
	}
	return b.Builder.Write(p)
}

// render executes t with data into a capped buffer.
func render(t *template.Template, data any) (string, error) {
	var b cappedBuilder
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Prompt is a system prompt as the API shows it: the template in force for
// the tenant, and the platform default beside it.
type Prompt struct {
	Type        string     `json:"type"`
	Description string     `json:"description"`
	Variables   []string   `json:"variables"`
	Template    string     `json:"template"`
	Default     string     `json:"default"`
	Customized  bool       `json:"customized"`
	UpdatedAt   *time.Time `json:"updated_at"`
}

// parseTemplate parses a prompt template; a missing variable is an error
// when it is rendered, so a typo does not send an empty prompt. A template
// may not define or call other templates (define, block, template): that
// is how a small template grows without bound.
func parseTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	if len(t.Templates()) > 1 || callsTemplates(t.Tree.Root) {
		return nil, errors.New("define, block and template actions are not allowed in a prompt")
	}
	return t, nil
}

// callsTemplates reports whether a parse tree holds a {{template}} action.
func callsTemplates(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.TemplateNode:
		return true
	case *parse.ListNode:
		if n == nil {
			return false
		}
		for _, c := range n.Nodes {
			if callsTemplates(c) {
				return true
			}
		}
	case *parse.IfNode:
		return callsTemplates(n.List) || callsTemplates(n.ElseList)
	case *parse.RangeNode:
		return callsTemplates(n.List) || callsTemplates(n.ElseList)
	case *parse.WithNode:
		return callsTemplates(n.List) || callsTemplates(n.ElseList)
	}
	return false
}

// Prompts lists every system prompt type as the tenant sees it.
func (s *Service) Prompts(ctx context.Context, tenantID string) ([]Prompt, error) {
	out := make([]Prompt, 0, len(s.prompts))
	for _, typ := range slices.Sorted(maps.Keys(s.prompts)) {
		p, err := s.Prompt(ctx, tenantID, typ)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Prompt returns the tenant's system prompt of type typ.
func (s *Service) Prompt(ctx context.Context, tenantID, typ string) (Prompt, error) {
	def, ok := s.prompts[typ]
	if !ok {
		return Prompt{}, ErrUnknownPromptType
	}
	p := Prompt{Type: typ, Description: def.Description, Variables: def.Variables, Template: def.Template, Default: def.Template}
	var text string
	var at time.Time
	err := s.db.QueryRow(ctx, `SELECT template, updated_at FROM tenant_system_prompts WHERE tenant_id = $1 AND type = $2`,
		tenantID, typ).Scan(&text, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return Prompt{}, fmt.Errorf("read system prompt %s of tenant %s: %w", typ, tenantID, err)
	}
	p.Template, p.Customized, p.UpdatedAt = text, true, &at
	return p, nil
}

// PutPrompt sets the tenant's own template of type typ. The template must
// parse and render with the type's variables.
func (s *Service) PutPrompt(ctx context.Context, tenantID, typ, text string) (Prompt, error) {
	def, ok := s.prompts[typ]
	if !ok {
		return Prompt{}, ErrUnknownPromptType
	}
	if err := checkTemplate(def, text); err != nil {
		return Prompt{}, err
	}
	_, err := s.db.Exec(ctx, `INSERT INTO tenant_system_prompts (tenant_id, type, template) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id, type) DO UPDATE SET template = $3, updated_at = now()`, tenantID, typ, text)
	if err != nil {
		return Prompt{}, fmt.Errorf("save system prompt %s of tenant %s: %w", typ, tenantID, err)
	}
	return s.Prompt(ctx, tenantID, typ)
}

// checkTemplate validates a tenant template: not empty, not too long, it
// parses, and it renders with every variable of its type set.
func checkTemplate(def PromptDefault, text string) error {
	var f problem.FieldErrors
	switch {
	case strings.TrimSpace(text) == "":
		f.Add("template", "is required")
	case len(text) > maxTemplate:
		f.Add("template", fmt.Sprintf("must be at most %d bytes", maxTemplate))
	default:
		t, err := parseTemplate(def.Type, text)
		if err == nil {
			_, err = render(t, sampleData(def.Variables))
		}
		if err != nil {
			f.Add("template", fmt.Sprintf("is not a valid template with the variables %v: %v", def.Variables, err))
		}
	}
	return f.Err()
}

// sampleData has every variable set, to try a template.
func sampleData(vars []string) map[string]any {
	m := make(map[string]any, len(vars))
	for _, v := range vars {
		m[v] = "sample"
	}
	return m
}

// DeletePrompt removes the tenant's own template: the default applies.
func (s *Service) DeletePrompt(ctx context.Context, tenantID, typ string) (Prompt, error) {
	if _, ok := s.prompts[typ]; !ok {
		return Prompt{}, ErrUnknownPromptType
	}
	if _, err := s.db.Exec(ctx, `DELETE FROM tenant_system_prompts WHERE tenant_id = $1 AND type = $2`, tenantID, typ); err != nil {
		return Prompt{}, fmt.Errorf("reset system prompt %s of tenant %s: %w", typ, tenantID, err)
	}
	return s.Prompt(ctx, tenantID, typ)
}

// Render renders the tenant's system prompt of type typ with data (a map
// or struct holding the type's variables).
func (s *Service) Render(ctx context.Context, tenantID, typ string, data any) (string, error) {
	p, err := s.Prompt(ctx, tenantID, typ)
	if err != nil {
		return "", err
	}
	t, err := parseTemplate(typ, p.Template)
	if err != nil {
		return "", fmt.Errorf("parse system prompt %s: %w", typ, err)
	}
	out, err := render(t, data)
	if err != nil {
		return "", fmt.Errorf("render system prompt %s: %w", typ, err)
	}
	return strings.TrimSpace(out), nil
}
