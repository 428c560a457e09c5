// Package video is a client for fal.ai's asynchronous queue API
// (https://queue.fal.run), which Kiln uses to generate videos.
//
// A generation is submitted (Submit), polled (Status) or awaited through
// a signed webhook (Verifier, Client.Verify), then fetched (Result,
// Download), or given up (Cancel):
//
//	POST {base}/{model}[?fal_webhook=URL]       submit → request_id and URLs
//	GET  {base}/{app}/requests/{id}/status      IN_QUEUE (202), IN_PROGRESS (202), COMPLETED (200)
//	GET  {base}/{app}/requests/{id}             the model's output, or its error
//	PUT  {base}/{app}/requests/{id}/cancel      202; 400 ALREADY_COMPLETED; 404 NOT_FOUND
//
// A model id such as "fal-ai/kling-video/v2/master/text-to-video" is
// submitted whole; the status, result and cancel URLs use only its app,
// the first two segments ("fal-ai/kling-video"), or three after the
// namespaces "workflows" and "comfy", as fal's own clients do.
//
// Every request has a timeout and is retried with backoff on 408, 429
// and 5xx answers, honouring Retry-After. Failures are the
// *problem.Problem values of package ai: 401 and 403 are
// provider_auth_failed, 429 provider_rate_limited, 5xx and network
// failures provider_unavailable, other 4xx provider_request_rejected with
// fal's message, and a model's content-policy refusal content_rejected.
// errors.Is matches them against ai.ErrProviderAuthFailed and the rest.
//
// Webhooks are signed by fal with Ed25519 over
//
//	request_id + "\n" + user_id + "\n" + timestamp + "\n" + hex(sha256(body))
//
// (the X-Fal-Webhook-Request-Id, -User-Id and -Timestamp headers), the
// hex signature in X-Fal-Webhook-Signature, with keys published as a
// JWKS at DefaultJWKSURL. The Verifier caches the keys and checks that
// the timestamp is within five minutes of now. fal retries an
// unacknowledged webhook, so the same delivery can arrive more than once.
package video
