package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kilnhq/kiln/internal/problem"
)

// EchoKind is the diagnostic kind system.echo, for tests, benchmarks and
// smoke checks. It echoes its message after sleeping, can fail its first
// attempts, report progress in steps, or panic. It is registered only when
// KILN_DIAGNOSTIC_KINDS=1.
func EchoKind() Kind {
	return Kind{
		Name:        "system.echo",
		Description: "Diagnostic: echoes message after sleep_ms, failing the first fail_times attempts, reporting progress_steps steps, or panicking.",
		Schema: json.RawMessage(`{"type":"object","additionalProperties":false,"properties":{
			"message":{"type":"string","maxLength":10000},
			"sleep_ms":{"type":"integer","minimum":0,"maximum":600000},
			"fail_times":{"type":"integer","minimum":0,"maximum":10},
			"progress_steps":{"type":"integer","minimum":0,"maximum":100},
			"panic":{"type":"boolean"}}}`),
		Validate:    validateEcho,
		Price:       1,
		Priority:    PriorityNormal,
		Timeout:     15 * time.Minute,
		MaxAttempts: 5,
		Handler:     runEcho,
	}
}

type echoInput struct {
	Message       string `json:"message"`
	SleepMS       int    `json:"sleep_ms"`
	FailTimes     int    `json:"fail_times"`
	ProgressSteps int    `json:"progress_steps"`
	Panic         bool   `json:"panic"`
}

func validateEcho(raw json.RawMessage) (json.RawMessage, error) {
	var in echoInput
	if err := strictDecode(raw, &in); err != nil {
		return nil, err
	}
	var f problem.FieldErrors
	f.Check(len(in.Message) > 10000, "message", "must be at most 10000 bytes")
	f.Check(in.SleepMS < 0 || in.SleepMS > 600000, "sleep_ms", "must be from 0 to 600000")
	f.Check(in.FailTimes < 0 || in.FailTimes > 10, "fail_times", "must be from 0 to 10")
	f.Check(in.ProgressSteps < 0 || in.ProgressSteps > 100, "progress_steps", "must be from 0 to 100")
	if err := f.Err(); err != nil {
		return nil, err
	}
	return json.Marshal(in)
}

func runEcho(ctx context.Context, run *Run) (any, error) {
	var in echoInput
	if err := run.Input(&in); err != nil {
		return nil, err
	}
	if in.Panic {
		panic("system.echo was asked to panic")
	}
	if run.Job.Attempt <= in.FailTimes {
		return nil, Retryable("echo_failure", fmt.Sprintf("failing attempt %d of the first %d as asked", run.Job.Attempt, in.FailTimes), nil)
	}
	steps := max(in.ProgressSteps, 1)
	for i := 1; i <= steps; i++ {
		if err := Sleep(ctx, time.Duration(in.SleepMS)*time.Millisecond/time.Duration(steps)); err != nil {
			return nil, err
		}
		if in.ProgressSteps > 0 {
			if err := run.Progress(ctx, i*100/steps, fmt.Sprintf("step %d of %d", i, steps)); err != nil {
				return nil, err
			}
		}
	}
	return map[string]any{"message": in.Message, "attempt": run.Job.Attempt}, nil
}

// Sleep waits for d or until ctx is done, returning why ctx ended. Handlers
// use it to wait (between polls of a slow provider, say) without outliving
// a cancel or timeout.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// StrictDecode decodes a kind's input into v, refusing unknown fields, and
// answers a field error on input when it does not fit. An empty input is
// the empty object.
func StrictDecode(raw json.RawMessage, v any) error { return strictDecode(raw, v) }

// strictDecode is StrictDecode.
func strictDecode(raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage(`{}`)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fieldProblem("input", "does not match the kind's schema: "+err.Error())
	}
	return nil
}
