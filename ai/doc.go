// Package ai holds Kiln's model providers: the interfaces the rest of Kiln
// calls, and their implementations over provider APIs or local code.
//
//   - Embeddings: Embedder, with an OpenAI-compatible provider (NewOpenAI,
//     through go-openai) and a local, offline hash embedder (NewHash) that
//     RAG falls back to when no API key is configured.
//   - Generation: Provider (NewProvider) over any OpenAI-compatible API
//     (OpenAI, Azure OpenAI, Ollama, vLLM, LocalAI): chat with JSON output,
//     vision input, image generation and edits, and speech, each with a
//     timeout, retries with backoff honouring Retry-After, usage for
//     billing, and an optional Limiter (RedisLimiter) that caps the calls
//     in flight to one upstream across every worker.
//
// Provider failures are *problem.Problem values with stable codes
// (provider_rate_limited, provider_unavailable, provider_auth_failed,
// provider_request_rejected, content_rejected, provider_not_configured),
// so jobs and the API can branch on them and report them. Subpackages:
// aitest (an OpenAI-wire test server) and espeak (local text to speech).
package ai
