package video

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/kilnhq/kiln/ai"
)

// Request is a request fal accepted into its queue.
type Request struct {
	// ID is fal's request_id, the key of Status, Result and Cancel and of
	// the webhook.
	ID string
	// GatewayID is fal's gateway_request_id: the same as ID unless fal
	// retried the request.
	GatewayID string
	// Model is the submitted model id.
	Model string
	// StatusURL, ResponseURL and CancelURL are the URLs fal returned.
	StatusURL, ResponseURL, CancelURL string
	// QueuePosition is the number of requests ahead, when fal said it.
	QueuePosition int
}

// State is the stage of a queue request.
type State string

// The states of a queue request. A failed or cancelled request is
// COMPLETED too; its result carries the failure.
const (
	StateInQueue    State = "IN_QUEUE"
	StateInProgress State = "IN_PROGRESS"
	StateCompleted  State = "COMPLETED"
)

// Status is what fal reports of a request.
type Status struct {
	State State
	// QueuePosition is the number of requests ahead (IN_QUEUE only).
	QueuePosition int
	// Logs are the runner's log lines, from StatusWithLogs.
	Logs []LogLine
	// InferenceSeconds is the time the runner spent (COMPLETED only, when
	// fal reports it).
	InferenceSeconds float64
	// Error and ErrorType describe a request that completed with an
	// error, when fal reports it in the status; Result has the details.
	Error     string
	ErrorType string
}

// Done reports whether the request has finished, well or not.
func (s Status) Done() bool { return s.State == StateCompleted }

// Failed reports whether the status says the request finished with an
// error.
func (s Status) Failed() bool { return s.Done() && s.Error != "" }

// LogLine is one line of a runner's log.
type LogLine struct {
	Time    string `json:"timestamp"`
	Level   string `json:"level"`
	Source  string `json:"source"`
	Message string `json:"message"`
}

// queueAnswer is the JSON of fal's submit and status answers.
type queueAnswer struct {
	RequestID        string    `json:"request_id"`
	GatewayRequestID string    `json:"gateway_request_id"`
	Status           State     `json:"status"`
	QueuePosition    *int      `json:"queue_position"`
	StatusURL        string    `json:"status_url"`
	ResponseURL      string    `json:"response_url"`
	CancelURL        string    `json:"cancel_url"`
	Logs             []LogLine `json:"logs"`
	Metrics          struct {
		InferenceTime *float64 `json:"inference_time"`
	} `json:"metrics"`
	Error     string `json:"error"`
	ErrorType string `json:"error_type"`
}

// Submit queues a generation of model with input and returns fal's
// request. When webhookURL is set, fal POSTs the outcome there (see
// Verifier). A submit whose answer was lost (timeout, network failure) is
// not sent again, since fal may have queued it; it fails with
// ai.ErrProviderUnavailable.
func (c *Client) Submit(ctx context.Context, model string, input map[string]any, webhookURL string) (Request, error) {
	op := "submit to fal model " + model
	target, err := c.submitURL(model, webhookURL)
	if err != nil {
		return Request{}, fmt.Errorf("%s: %w", op, err)
	}
	if input == nil {
		input = map[string]any{}
	}
	body, err := json.Marshal(input)
	if err != nil {
		return Request{}, fmt.Errorf("%s: encode the input: %w", op, err)
	}
	var qa queueAnswer
	if err := c.api(ctx, op, call{method: http.MethodPost, url: target, body: body}, &qa); err != nil {
		return Request{}, err
	}
	if qa.RequestID == "" {
		return Request{}, fmt.Errorf("%s: %w", op, provider(ai.ErrProviderUnavailable, " (fal's answer has no request_id)"))
	}
	return Request{ID: qa.RequestID, GatewayID: or(qa.GatewayRequestID, qa.RequestID), Model: model,
		StatusURL: qa.StatusURL, ResponseURL: qa.ResponseURL, CancelURL: qa.CancelURL,
		QueuePosition: deref(qa.QueuePosition)}, nil
}

// submitURL is {base}/{model}, with the webhook as fal_webhook.
func (c *Client) submitURL(model, webhookURL string) (string, error) {
	path, err := modelPath(model)
	if err != nil {
		return "", err
	}
	target := c.cfg.BaseURL + "/" + path
	if webhookURL == "" {
		return target, nil
	}
	if err := checkHTTPURL(webhookURL); err != nil {
		return "", fmt.Errorf("webhook URL: %w", err)
	}
	return target + "?" + url.Values{"fal_webhook": {webhookURL}}.Encode(), nil
}

// Status returns the state of a request of model.
func (c *Client) Status(ctx context.Context, model, requestID string) (Status, error) {
	return c.status(ctx, model, requestID, false)
}

// StatusWithLogs is Status with the runner's log lines.
func (c *Client) StatusWithLogs(ctx context.Context, model, requestID string) (Status, error) {
	return c.status(ctx, model, requestID, true)
}

func (c *Client) status(ctx context.Context, model, requestID string, logs bool) (Status, error) {
	op := fmt.Sprintf("get the status of fal request %s of %s", requestID, model)
	target, err := c.requestURL(model, requestID, "/status")
	if err != nil {
		return Status{}, fmt.Errorf("%s: %w", op, err)
	}
	if logs {
		target += "?logs=1"
	}
	var qa queueAnswer
	if err := c.api(ctx, op, call{method: http.MethodGet, url: target, resend: true}, &qa); err != nil {
		return Status{}, err
	}
	switch qa.Status {
	case StateInQueue, StateInProgress, StateCompleted:
	default:
		return Status{}, fmt.Errorf("%s: %w", op, provider(ai.ErrProviderUnavailable,
			fmt.Sprintf(" (fal reported the unknown status %q)", qa.Status)))
	}
	st := Status{State: qa.Status, QueuePosition: deref(qa.QueuePosition), Logs: qa.Logs,
		Error: qa.Error, ErrorType: qa.ErrorType}
	if qa.Metrics.InferenceTime != nil {
		st.InferenceSeconds = *qa.Metrics.InferenceTime
	}
	return st, nil
}

// Result returns the output of a completed request of model. A request
// the model refused fails with an ai.ErrContentRejected problem for a
// content-policy refusal, ai.ErrProviderRequestRejected for other input
// errors, and ai.ErrProviderUnavailable for a failure of fal or the
// model's runner; asking before completion fails with
// ai.ErrProviderRequestRejected.
func (c *Client) Result(ctx context.Context, model, requestID string) (Result, error) {
	op := fmt.Sprintf("get the result of fal request %s of %s", requestID, model)
	target, err := c.requestURL(model, requestID, "")
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", op, err)
	}
	var raw json.RawMessage
	if err := c.api(ctx, op, call{method: http.MethodGet, url: target, resend: true, outcome: true}, &raw); err != nil {
		return Result{}, err
	}
	res, err := ParseResult(raw)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", op, err)
	}
	return res, nil
}

// Cancel asks fal to cancel a request of model: a queued one is dropped,
// a running one is signalled (the model decides when it stops). A request
// that had already finished fails with ErrAlreadyCompleted, which callers
// may ignore.
func (c *Client) Cancel(ctx context.Context, model, requestID string) error {
	op := fmt.Sprintf("cancel fal request %s of %s", requestID, model)
	target, err := c.requestURL(model, requestID, "/cancel")
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	ans, n, err := c.do(ctx, op, c.apiCall(call{method: http.MethodPut, url: target, resend: true}))
	var se *statusError
	if errors.As(err, &se) && se.status == http.StatusBadRequest && se.state == "ALREADY_COMPLETED" {
		return fmt.Errorf("%s: %w", op, ErrAlreadyCompleted)
	}
	if err != nil {
		return c.apiFail(op, n, err)
	}
	c.cfg.Log.Debug("fal request cancelled", "request", requestID, "answer", string(ans.body))
	return nil
}

// api makes a queue API call and decodes its JSON answer into out.
func (c *Client) api(ctx context.Context, op string, cl call, out any) error {
	ans, n, err := c.do(ctx, op, c.apiCall(cl))
	if err != nil {
		return c.apiFail(op, n, err)
	}
	if err := json.Unmarshal(ans.body, out); err != nil {
		return fmt.Errorf("%s: %w", op, provider(ai.ErrProviderUnavailable,
			fmt.Sprintf(" (fal's answer is not the expected JSON: %v)", err)))
	}
	return nil
}

// apiCall fills in what every queue API call shares.
func (c *Client) apiCall(cl call) call {
	cl.auth, cl.timeout, cl.limit = true, c.cfg.Timeout, maxAnswer
	return cl
}

// apiFail is the error of a failed queue API call: ErrRequestNotFound for
// a 404 naming the request, else the provider problem.
func (c *Client) apiFail(op string, requests int, err error) error {
	var se *statusError
	if errors.As(err, &se) && se.status == http.StatusNotFound && se.state == "NOT_FOUND" {
		return fmt.Errorf("%s: %w", op, ErrRequestNotFound)
	}
	return fail(op, requests, err)
}

// requestURL is {base}/{app}/requests/{id}{suffix}.
func (c *Client) requestURL(model, requestID, suffix string) (string, error) {
	app, err := appPath(model)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(requestID) == "" {
		return "", errors.New("the request id is empty")
	}
	return c.cfg.BaseURL + "/" + app + "/requests/" + url.PathEscape(requestID) + suffix, nil
}

// modelPath checks a model id ("owner/app[/path...]") and escapes its
// segments for a URL path.
func modelPath(model string) (string, error) {
	segs := strings.Split(model, "/")
	if len(segs) < 2 {
		return "", fmt.Errorf("model %q is not a fal model id such as fal-ai/veo3", model)
	}
	for i, s := range segs {
		if s == "" || s == "." || s == ".." {
			return "", fmt.Errorf("model %q has an empty or relative path segment", model)
		}
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/"), nil
}

// appPath is the app part of a model id, which the status, result and
// cancel URLs use: owner/app, or namespace/owner/app for fal's
// "workflows" and "comfy" namespaces.
func appPath(model string) (string, error) {
	path, err := modelPath(model)
	if err != nil {
		return "", err
	}
	segs := strings.Split(path, "/")
	n := 2
	if (segs[0] == "workflows" || segs[0] == "comfy") && len(segs) > 2 {
		n = 3
	}
	return strings.Join(segs[:n], "/"), nil
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
