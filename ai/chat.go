package ai

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/sashabaranov/go-openai"

	"github.com/kilnhq/kiln/internal/problem"
)

// Message is one turn of a conversation.
type Message struct {
	// Role is "user" or "assistant".
	Role string
	// Text is the message.
	Text string
}

// ImageInput is an image a vision request shows the model: Data (PNG,
// JPEG, GIF or WebP bytes, sent as a data URL) or URL (fetched by the
// provider).
type ImageInput struct {
	Data []byte
	URL  string
	// Detail is "low", "high" or "auto" (empty: the provider's default).
	Detail string
}

// ChatRequest is a chat completion. With Images it goes to the vision
// model, else to the chat model.
type ChatRequest struct {
	// System is the system prompt; may be empty.
	System string
	// Messages are the conversation, ending with the user's turn.
	Messages []Message
	// Images are attached to the last user message.
	Images []ImageInput
	// JSON asks for a JSON object; the answer is checked to be one.
	JSON bool
	// MaxTokens caps the answer; zero leaves it to the provider.
	MaxTokens int
	// Temperature is the sampling temperature; nil leaves it to the
	// provider. Reasoning models (o1, o3, o4, gpt-5) ignore it.
	Temperature *float32
}

// ChatResult is a chat completion's answer.
type ChatResult struct {
	// Text is the assistant's answer; a JSON object when JSON was asked.
	Text string
	// FinishReason is the provider's ("stop", "length", ...).
	FinishReason string
	// Usage is what the call consumed, also when it failed.
	Usage CallUsage
}

// Chat answers a conversation. A JSON request whose answer is not a JSON
// object is retried like an outage; a content_filter finish fails with
// ErrContentRejected.
func (p *Provider) Chat(ctx context.Context, req ChatRequest) (ChatResult, error) {
	model, err := p.chatModel(req)
	if err != nil {
		return ChatResult{}, err
	}
	creq, err := buildChat(model, req)
	if err != nil {
		return ChatResult{}, err
	}
	var res ChatResult
	op := fmt.Sprintf("chat with %s", model)
	res.Usage.Requests, err = p.call(ctx, op, func(ctx context.Context, c *openai.Client) error {
		out, err := c.CreateChatCompletion(ctx, creq)
		if err != nil {
			return err
		}
		res.Usage.PromptTokens += out.Usage.PromptTokens
		res.Usage.CompletionTokens += out.Usage.CompletionTokens
		res.Text, res.FinishReason, err = chatAnswer(out, req.JSON)
		return err
	})
	if err != nil {
		return ChatResult{Usage: res.Usage}, err
	}
	return res, nil
}

func (p *Provider) chatModel(req ChatRequest) (string, error) {
	if len(req.Images) > 0 {
		return model(p.cfg.Models.Vision, "vision", "KILN_MODEL_VISION")
	}
	return model(p.cfg.Models.Chat, "chat", "KILN_MODEL_CHAT")
}

// buildChat turns req into go-openai's request.
func buildChat(model string, req ChatRequest) (openai.ChatCompletionRequest, error) {
	msgs, err := chatMessages(req)
	if err != nil {
		return openai.ChatCompletionRequest{}, err
	}
	creq := openai.ChatCompletionRequest{Model: model, Messages: msgs}
	reasoning := isReasoningModel(model)
	switch {
	case req.MaxTokens > 0 && reasoning:
		creq.MaxCompletionTokens = req.MaxTokens
	case req.MaxTokens > 0:
		creq.MaxTokens = req.MaxTokens // the field every compatible server knows
	}
	if req.Temperature != nil && !reasoning {
		// go-openai omits a zero temperature; the smallest float is as good.
		creq.Temperature = max(*req.Temperature, math.SmallestNonzeroFloat32)
	}
	if req.JSON {
		creq.ResponseFormat = &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject}
	}
	return creq, nil
}

// isReasoningModel reports the OpenAI models that take
// max_completion_tokens and no temperature.
func isReasoningModel(model string) bool {
	for _, prefix := range []string{"o1", "o3", "o4", "gpt-5"} {
		if strings.HasPrefix(model, prefix) {
			return true
		}
	}
	return false
}

// chatMessages builds the message list: the system prompt (told to answer
// in JSON in JSON mode, as OpenAI requires the word), the turns, and the
// images on the last user turn.
func chatMessages(req ChatRequest) ([]openai.ChatCompletionMessage, error) {
	if len(req.Messages) == 0 {
		return nil, invalidRequest("a chat request needs at least one message")
	}
	system := req.System
	if req.JSON && !mentionsJSON(req) {
		system = strings.TrimSpace(system + "\n\nAnswer with a single JSON object.")
	}
	var msgs []openai.ChatCompletionMessage
	if system != "" {
		msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleSystem, Content: system})
	}
	last := lastUser(req.Messages)
	if len(req.Images) > 0 && last < 0 {
		return nil, invalidRequest("images need a user message to attach to")
	}
	for i, m := range req.Messages {
		msg := openai.ChatCompletionMessage{Role: or(m.Role, openai.ChatMessageRoleUser), Content: m.Text}
		if i == last && len(req.Images) > 0 {
			parts, err := visionParts(m.Text, req.Images)
			if err != nil {
				return nil, err
			}
			msg.Content, msg.MultiContent = "", parts
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

func mentionsJSON(req ChatRequest) bool {
	if strings.Contains(strings.ToLower(req.System), "json") {
		return true
	}
	for _, m := range req.Messages {
		if strings.Contains(strings.ToLower(m.Text), "json") {
			return true
		}
	}
	return false
}

func lastUser(msgs []Message) int {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "" || msgs[i].Role == openai.ChatMessageRoleUser {
			return i
		}
	}
	return -1
}

// visionParts are the text and image_url parts of a vision message.
func visionParts(text string, images []ImageInput) ([]openai.ChatMessagePart, error) {
	parts := []openai.ChatMessagePart{{Type: openai.ChatMessagePartTypeText, Text: text}}
	for i, img := range images {
		url := img.URL
		if len(img.Data) > 0 {
			ct := http.DetectContentType(img.Data)
			if !strings.HasPrefix(ct, "image/") {
				return nil, invalidRequest(fmt.Sprintf("image %d is not an image (%s)", i, ct))
			}
			url = "data:" + ct + ";base64," + base64.StdEncoding.EncodeToString(img.Data)
		}
		if url == "" {
			return nil, invalidRequest(fmt.Sprintf("image %d has neither data nor a URL", i))
		}
		parts = append(parts, openai.ChatMessagePart{Type: openai.ChatMessagePartTypeImageURL,
			ImageURL: &openai.ChatMessageImageURL{URL: url, Detail: openai.ImageURLDetail(img.Detail)}})
	}
	return parts, nil
}

// chatAnswer checks a completion and returns its text and finish reason.
func chatAnswer(out openai.ChatCompletionResponse, wantJSON bool) (string, string, error) {
	if len(out.Choices) == 0 {
		return "", "", fmt.Errorf("%w: the answer has no choices", ErrProviderUnavailable)
	}
	ch := out.Choices[0]
	text, finish := ch.Message.Content, string(ch.FinishReason)
	switch {
	case ch.FinishReason == openai.FinishReasonContentFilter:
		return "", finish, ErrContentRejected
	case ch.Message.Refusal != "" && text == "":
		return "", finish, &problem.Problem{Kind: ErrContentRejected.Kind, Code: ErrContentRejected.Code,
			Message: "the model refused: " + ch.Message.Refusal}
	case !wantJSON:
		return text, finish, nil
	case ch.FinishReason == openai.FinishReasonLength:
		return "", finish, invalidRequest("the JSON answer was cut at the token limit; raise MaxTokens")
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(text), &obj); err != nil {
		return "", finish, fmt.Errorf("%w: JSON mode answer is not a JSON object: %v", ErrProviderUnavailable, err)
	}
	return text, finish, nil
}

// invalidRequest is ErrProviderRequestRejected with a specific message,
// for requests refused before they are sent.
func invalidRequest(msg string) error {
	return &problem.Problem{Kind: ErrProviderRequestRejected.Kind, Code: ErrProviderRequestRejected.Code, Message: msg}
}
