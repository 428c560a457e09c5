package aitest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	_ "image/gif" // decodes GIF vision input
	_ "image/jpeg"
	_ "image/png"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Prompt is what a chat completion asked, as a SetReplyFunc sees it.
type Prompt struct {
	// Model is the requested model.
	Model string
	// System holds the system and developer messages, joined by newlines.
	System string
	// User holds the user messages, joined by newlines.
	User string
	// Last is the text of the last user message.
	Last string
	// Images are the image_url parts of the user messages.
	Images []Image
	// JSON reports that the request asked for a JSON answer
	// (response_format json_object or json_schema).
	JSON bool
}

// Image is an image a chat request carried (vision input).
type Image struct {
	// URL is the image_url as sent; data URLs are kept whole.
	URL string
	// Detail is the requested detail ("low", "high", "auto" or "").
	Detail string
	// Format, Width and Height describe a data-URL image ("png", "jpeg",
	// "gif"); they are empty for a remote URL, which is not fetched.
	Format        string
	Width, Height int
}

// chatRequest is the part of a chat completion request the server reads.
type chatRequest struct {
	Model               string        `json:"model"`
	Messages            []chatMessage `json:"messages"`
	N                   int           `json:"n"`
	MaxTokens           int           `json:"max_tokens"`
	MaxCompletionTokens int           `json:"max_completion_tokens"`
	Stream              bool          `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	ResponseFormat *struct {
		Type string `json:"type"`
	} `json:"response_format"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type chatPart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	ImageURL *struct {
		URL    string `json:"url"`
		Detail string `json:"detail"`
	} `json:"image_url"`
}

// chat answers POST /v1/chat/completions.
func (s *Server) chat(w http.ResponseWriter, rec *Request, st Step) {
	var req chatRequest
	if err := json.Unmarshal(rec.Body, &req); err != nil {
		writeAPIError(w, badRequest("We could not parse the JSON body of your request. ("+err.Error()+")", ""))
		return
	}
	if !s.checkModel(w, req.Model) {
		return
	}
	p, tokens, bad := readPrompt(req)
	if bad.fails() {
		writeAPIError(w, bad)
		return
	}
	if req.N < 0 || req.N > 128 {
		writeAPIError(w, badRequest(fmt.Sprintf("%d is not a valid value for 'n'", req.N), "n"))
		return
	}
	text, finish := s.replyText(p, st, max(req.MaxCompletionTokens, req.MaxTokens))
	n := max(req.N, 1)
	out := countTokens(text)
	completion := chatCompletion{
		id: fmt.Sprintf("chatcmpl-aitest%06d", s.nextID()), model: req.Model, created: time.Now().Unix(),
		text: text, finish: finish, n: n, usage: usage(tokens, out*n),
	}
	if req.Stream {
		streamChat(w, completion, req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
		return
	}
	writeJSON(w, http.StatusOK, completion.response())
}

// readPrompt collects the messages into a Prompt, counts prompt tokens and
// applies OpenAI's checks; a failing step reports what was wrong.
func readPrompt(req chatRequest) (Prompt, int, Step) {
	p := Prompt{Model: req.Model}
	if len(req.Messages) == 0 {
		return p, 0, badRequest("[] is too short - 'messages'", "messages")
	}
	tokens := 3
	var system, user []string
	for i, m := range req.Messages {
		text, imgs, bad := readContent(m.Content, i)
		if bad.fails() {
			return p, 0, bad
		}
		tokens += 4 + countTokens(text) + imageTokens(imgs)
		switch m.Role {
		case "system", "developer":
			system = append(system, text)
		case "user":
			user = append(user, text)
			p.Last = text
			p.Images = append(p.Images, imgs...)
		}
	}
	p.System, p.User = strings.Join(system, "\n"), strings.Join(user, "\n")
	if req.ResponseFormat != nil {
		switch req.ResponseFormat.Type {
		case "json_object":
			p.JSON = true
			if !strings.Contains(strings.ToLower(p.System+"\n"+p.User), "json") {
				return p, 0, badRequest("'messages' must contain the word 'json' in some form, "+
					"to use 'response_format' of type 'json_object'.", "messages")
			}
		case "json_schema":
			p.JSON = true
		}
	}
	return p, tokens, OK()
}

// readContent reads a message content: a string, a list of text and
// image_url parts, or null.
func readContent(raw json.RawMessage, index int) (string, []Image, Step) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil, OK()
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return text, nil, OK()
	}
	var parts []chatPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", nil, badRequest(fmt.Sprintf("Invalid type for 'messages[%d].content'.", index),
			fmt.Sprintf("messages.[%d].content", index))
	}
	var texts []string
	var imgs []Image
	for _, part := range parts {
		switch {
		case part.Type == "text":
			texts = append(texts, part.Text)
		case part.Type == "image_url" && part.ImageURL != nil:
			img, bad := readImage(part.ImageURL.URL, part.ImageURL.Detail)
			if bad.fails() {
				return "", nil, bad
			}
			imgs = append(imgs, img)
		default:
			return "", nil, badRequest(fmt.Sprintf("Invalid content part type %q in 'messages[%d]'.", part.Type, index),
				fmt.Sprintf("messages.[%d].content", index))
		}
	}
	return strings.Join(texts, "\n"), imgs, OK()
}

// readImage checks an image_url: a data URL must hold a decodable PNG,
// JPEG or GIF; an http(s) URL is taken as it is.
func readImage(url, detail string) (Image, Step) {
	img := Image{URL: url, Detail: detail}
	if strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://") {
		return img, OK()
	}
	unsupported := Fail(http.StatusBadRequest).Code("invalid_image_format").Message(
		"You uploaded an unsupported image. Please make sure your image has of one the following formats: " +
			"['png', 'jpeg', 'gif', 'webp'].")
	meta, data, ok := strings.Cut(strings.TrimPrefix(url, "data:"), ",")
	if !strings.HasPrefix(url, "data:") || !ok || !strings.HasSuffix(meta, ";base64") {
		return img, Fail(http.StatusBadRequest).Code("invalid_image_url").Message(
			"Invalid image URL: expected an http(s) URL or a base64 data URL.")
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return img, unsupported
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return img, unsupported
	}
	img.Format, img.Width, img.Height = format, cfg.Width, cfg.Height
	return img, OK()
}

// imageTokens approximates OpenAI's vision cost: 85 tokens for a low
// detail image, 765 (a 1024x1024 tile set) otherwise.
func imageTokens(imgs []Image) int {
	n := 0
	for _, img := range imgs {
		if img.Detail == "low" {
			n += 85
		} else {
			n += 765
		}
	}
	return n
}

// countTokens approximates a token count with OpenAI's rule of thumb of
// four bytes of English per token.
func countTokens(s string) int { return (len(s) + 3) / 4 }

// replyText picks the assistant's text (step, reply function or default),
// makes it JSON in JSON mode and cuts it at limit tokens as OpenAI does,
// returning the finish reason.
func (s *Server) replyText(p Prompt, st Step, limit int) (string, string) {
	s.mu.Lock()
	fn := s.reply
	s.mu.Unlock()
	text := defaultReply(p)
	switch {
	case st.hasReply:
		text = st.reply
	case fn != nil:
		text = fn(p)
	}
	if p.JSON {
		text = asJSONObject(text)
	}
	if limit > 0 && countTokens(text) > limit {
		return clip(text, limit*4), "length"
	}
	return text, "stop"
}

// defaultReply derives a deterministic reply from the last user message
// and acknowledges the images.
func defaultReply(p Prompt) string {
	reply := "aitest reply to: " + clip(strings.Join(strings.Fields(p.Last), " "), 200)
	if len(p.Images) == 0 {
		return reply
	}
	var seen []string
	for _, img := range p.Images {
		if img.Format == "" {
			seen = append(seen, "remote image "+img.URL)
		} else {
			seen = append(seen, fmt.Sprintf("%s %dx%d", img.Format, img.Width, img.Height))
		}
	}
	return fmt.Sprintf("%s [saw %d image(s): %s]", reply, len(p.Images), strings.Join(seen, "; "))
}

// asJSONObject returns text when it is a JSON object, else {"reply": text}.
func asJSONObject(text string) string {
	var obj map[string]any
	if json.Unmarshal([]byte(text), &obj) == nil {
		return text
	}
	b, _ := json.Marshal(map[string]string{"reply": text})
	return string(b)
}

// clip cuts s to at most n bytes at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func usage(prompt, completion int) map[string]any {
	return map[string]any{
		"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
		"prompt_tokens_details":     map[string]int{"cached_tokens": 0, "audio_tokens": 0},
		"completion_tokens_details": map[string]int{"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
	}
}

// chatCompletion is one answer, rendered whole or streamed.
type chatCompletion struct {
	id, model, text, finish string
	created                 int64
	n                       int
	usage                   map[string]any
}

func (c chatCompletion) response() map[string]any {
	choices := make([]map[string]any, c.n)
	for i := range choices {
		choices[i] = map[string]any{
			"index":         i,
			"message":       map[string]any{"role": "assistant", "content": c.text, "refusal": nil, "annotations": []any{}},
			"logprobs":      nil,
			"finish_reason": c.finish,
		}
	}
	return map[string]any{
		"id": c.id, "object": "chat.completion", "created": c.created, "model": c.model,
		"choices": choices, "usage": c.usage, "service_tier": "default", "system_fingerprint": "fp_aitest",
	}
}

// streamChat sends the completion as server-sent events: a role delta,
// the text word by word, a finish chunk, the usage chunk when asked, and
// [DONE].
func streamChat(w http.ResponseWriter, c chatCompletion, withUsage bool) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(choices []map[string]any, usage any) {
		chunk := map[string]any{
			"id": c.id, "object": "chat.completion.chunk", "created": c.created, "model": c.model,
			"system_fingerprint": "fp_aitest", "choices": choices,
		}
		if withUsage {
			chunk["usage"] = usage
		}
		b, _ := json.Marshal(chunk)
		_, _ = fmt.Fprintf(w, "data: %s\n\n", b)
	}
	for i := range c.n {
		send([]map[string]any{delta(i, map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil)}, nil)
		for _, word := range strings.SplitAfter(c.text, " ") {
			send([]map[string]any{delta(i, map[string]any{"content": word}, nil)}, nil)
		}
		send([]map[string]any{delta(i, map[string]any{}, c.finish)}, nil)
	}
	if withUsage {
		send([]map[string]any{}, c.usage)
	}
	_, _ = fmt.Fprint(w, "data: [DONE]\n\n")
}

func delta(index int, d map[string]any, finish any) map[string]any {
	return map[string]any{"index": index, "delta": d, "logprobs": nil, "finish_reason": finish}
}
