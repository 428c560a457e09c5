package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/kilnhq/kiln/internal/problem"
)

// Failure is a handler error with a stable code for the job's error field.
// Retryable failures are tried again while attempts remain; others end the
// job at once. Chargeable failures are the caller's fault (bad content, say)
// and capture the credits used; others release them.
type Failure struct {
	Code       string
	Message    string
	Retryable  bool
	Chargeable bool
	Err        error
}

func (f *Failure) Error() string {
	if f.Err != nil {
		return fmt.Sprintf("%s: %s: %v", f.Code, f.Message, f.Err)
	}
	return f.Code + ": " + f.Message
}

func (f *Failure) Unwrap() error { return f.Err }

// Permanent wraps err so the job fails at once with code, without retries.
func Permanent(code, message string, err error) error {
	return &Failure{Code: code, Message: message, Err: err}
}

// Retryable wraps err so the attempt fails with code and is retried with
// backoff while attempts remain.
func Retryable(code, message string, err error) error {
	return &Failure{Code: code, Message: message, Retryable: true, Err: err}
}

// failureOf classifies any handler error. Errors that are not a *Failure
// are retried, with the code "handler_error".
func failureOf(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	return &Failure{Code: "handler_error", Message: err.Error(), Retryable: true}
}

// FailureFrom maps the error of a call to a dependency (a model provider,
// say) to the job's failure. A *Failure and a context error pass through;
// a *problem.Problem fails with its own code and message, retried when
// transient reports that it may pass (a rate limit, an outage) and at once
// otherwise; any other error is wrapped with doing and retried.
func FailureFrom(doing string, err error, transient func(error) bool) error {
	var f *Failure
	if err == nil || errors.As(err, &f) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	p, ok := problem.As(err)
	switch {
	case !ok:
		return fmt.Errorf("%s: %w", doing, err)
	case transient(err):
		return Retryable(p.Code, p.Message, err)
	}
	return Permanent(p.Code, p.Message, err)
}
