// Package aitest holds test servers for the outside AI APIs Kiln calls, so
// Kiln's tests run its real client code (go-openai, the video queue
// client) against faithful fakes. The outside APIs are the one thing
// Kiln's tests may fake.
//
// Server speaks OpenAI's wire protocol under /v1: chat completions (JSON
// mode, vision input, streaming, usage), image generations and edits
// (real PNGs of the requested size, as b64_json or URL), speech (real WAV
// or PCM audio, or MP3 of silent frames, as long as the text), embeddings
// (deterministic vectors of the requested dimensions) and the model list.
// It applies OpenAI's request checks where Kiln could trip on them in
// production: unknown models, the word "json" in JSON mode, per-model
// image sizes and n, the 4096-character speech input limit, image parts
// sent without an image content type.
//
// Faults are scripted per endpoint and call: Script queues steps for the
// next calls (Fail(429).RetryAfter(1), Fail(500), ContentPolicy(),
// InvalidAPIKey(), OK().After(d) for slowness, Reply(text)); Choose picks
// a step from the request itself; Delay slows every call. Delays end when
// the client cancels. Every request is recorded with its headers and
// decoded body (Requests, RequestsTo, Calls), and the API key is checked.
//
// VideoQueue speaks a queue protocol shaped like fal.ai's: submit, status
// with queue position, result with a video URL serving a real MP4, cancel,
// and signed webhooks; the test moves requests on with Advance.
//
// Example:
//
//	srv := aitest.New(t)
//	srv.Script(aitest.PathImages, aitest.Fail(429).RetryAfter(1), aitest.Fail(500), aitest.OK())
//	client := openai.NewClientWithConfig(srv.ClientConfig())
package aitest
