package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Priority orders work: high, normal or low.
type Priority string

// The priorities.
const (
	PriorityHigh   Priority = "high"
	PriorityNormal Priority = "normal"
	PriorityLow    Priority = "low"
)

// Valid reports whether p is a known priority.
func (p Priority) Valid() bool {
	return p == PriorityHigh || p == PriorityNormal || p == PriorityLow
}

// Handler does one job's work. It returns the job's result (marshalled to
// JSON) or an error; see Permanent and Failure for errors that must not be
// retried. It must be idempotent per job id: it may run twice for one job.
type Handler func(ctx context.Context, run *Run) (any, error)

// Kind describes one kind of job.
type Kind struct {
	// Name is what callers submit, such as "post.from_url".
	Name        string
	Description string
	// Schema is the JSON Schema of the input, published by GET /job-kinds.
	Schema json.RawMessage
	// Validate checks the input and may normalise it; it returns a
	// problem.Invalid with details.fields for bad input.
	Validate func(input json.RawMessage) (json.RawMessage, error)
	// Units is how many priced units the input asks for (1 if nil); the
	// cost estimate is units times the kind's price.
	Units func(input json.RawMessage) int64
	// Price is the default price of one unit, in credits; the cost table
	// can override it globally or per tenant.
	Price       int64
	Priority    Priority
	Timeout     time.Duration
	MaxAttempts int
	Handler     Handler
	// Preflight, when set, runs at submit before anything is written; an
	// error refuses the submit (a 503 provider_not_configured, say).
	Preflight func(ctx context.Context, tenantID string, input json.RawMessage) error
	// Internal kinds are run only as children of another job (see
	// Run.SubmitChildren): the API refuses them, and they are not priced:
	// the parent reserves for them and captures their usage.
	Internal bool
	// OnCancel, when set, is called once a parked job of this kind is
	// canceled (see Await), to cancel work outside, such as a provider's
	// queued request. Its error is logged.
	OnCancel func(ctx context.Context, j Job) error
}

// Registry holds the kinds this installation runs.
type Registry struct {
	kinds map[string]*Kind
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{kinds: map[string]*Kind{}} }

// Register adds k, filling defaults. It panics on a duplicate or incomplete
// kind: that is a programming error found at start-up.
func (r *Registry) Register(k Kind) {
	if k.Name == "" || k.Handler == nil || k.Validate == nil {
		panic(fmt.Sprintf("jobs: kind %q needs a name, a validator and a handler", k.Name))
	}
	if _, dup := r.kinds[k.Name]; dup {
		panic(fmt.Sprintf("jobs: kind %q registered twice", k.Name))
	}
	if !k.Priority.Valid() {
		k.Priority = PriorityNormal
	}
	if k.Timeout <= 0 {
		k.Timeout = 10 * time.Minute
	}
	if k.MaxAttempts <= 0 {
		k.MaxAttempts = 3
	}
	if k.Units == nil {
		k.Units = func(json.RawMessage) int64 { return 1 }
	}
	if len(k.Schema) == 0 {
		k.Schema = json.RawMessage(`{"type":"object"}`)
	}
	r.kinds[k.Name] = &k
}

// Get returns the kind called name.
func (r *Registry) Get(name string) (*Kind, bool) {
	k, ok := r.kinds[name]
	return k, ok
}

// List returns every kind, sorted by name.
func (r *Registry) List() []*Kind {
	out := make([]*Kind, 0, len(r.kinds))
	for _, k := range r.kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
