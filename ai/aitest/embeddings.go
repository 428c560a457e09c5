package aitest

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// maxEmbeddingInputs is OpenAI's limit of inputs per embeddings request.
const maxEmbeddingInputs = 2048

// embeddingRequest is a POST /v1/embeddings body.
type embeddingRequest struct {
	Input          any    `json:"input"`
	Model          string `json:"model"`
	Dimensions     int    `json:"dimensions"`
	EncodingFormat string `json:"encoding_format"`
}

// embeddings answers POST /v1/embeddings with deterministic unit vectors:
// each text's words are hashed into the dimensions (a signed bag of
// words), so equal texts get equal vectors and texts sharing words are
// close, as a RAG test wants.
func (s *Server) embeddings(w http.ResponseWriter, rec *Request, _ Step) {
	var req embeddingRequest
	if err := json.Unmarshal(rec.Body, &req); err != nil {
		writeAPIError(w, badRequest("We could not parse the JSON body of your request. ("+err.Error()+")", ""))
		return
	}
	if !s.checkModel(w, req.Model) {
		return
	}
	inputs, bad := embeddingInputs(req.Input)
	if bad.fails() {
		writeAPIError(w, bad)
		return
	}
	dims, bad := embeddingDims(req.Model, req.Dimensions)
	if bad.fails() {
		writeAPIError(w, bad)
		return
	}
	data := make([]map[string]any, len(inputs))
	tokens := 0
	for i, in := range inputs {
		vec := embed(in, dims)
		tokens += countTokens(in)
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": encodeVector(vec, req.EncodingFormat)}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	})
}

// embeddingInputs reads the input: a string, a list of strings, a list of
// token ids or a list of such lists (token ids are embedded as their text).
func embeddingInputs(v any) ([]string, Step) {
	invalid := badRequest("'input' must be a non-empty string, array of strings, array of tokens, "+
		"or array of token arrays.", "input")
	var out []string
	switch v := v.(type) {
	case string:
		out = []string{v}
	case []any:
		if len(v) > 0 {
			if _, tokens := v[0].(float64); tokens {
				return []string{fmt.Sprint(v...)}, OK()
			}
		}
		for _, item := range v {
			switch item := item.(type) {
			case string:
				out = append(out, item)
			case []any:
				out = append(out, fmt.Sprint(item...))
			default:
				return nil, invalid
			}
		}
	}
	if len(out) == 0 || len(out) > maxEmbeddingInputs {
		return nil, invalid
	}
	for _, s := range out {
		if s == "" {
			return nil, invalid
		}
	}
	return out, OK()
}

// embeddingDims is the vector size: the requested dimensions where the
// model takes them (text-embedding-3 and models OpenAI does not know),
// else the model's own size.
func embeddingDims(model string, requested int) (int, Step) {
	native := map[string]int{"text-embedding-3-small": 1536, "text-embedding-3-large": 3072,
		"text-embedding-ada-002": 1536}[model]
	switch {
	case requested == 0 && native > 0:
		return native, OK()
	case requested == 0:
		return 1536, OK()
	case model == "text-embedding-ada-002":
		return 0, badRequest("This model does not support specifying dimensions.", "dimensions")
	case requested < 1 || (native > 0 && requested > native):
		return 0, badRequest(fmt.Sprintf("Invalid 'dimensions': %d.", requested), "dimensions")
	}
	return requested, OK()
}

// embed hashes the lower-cased words of text into a signed bag of words
// and normalizes it to unit length.
func embed(text string, dims int) []float32 {
	vec := make([]float64, dims)
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	if len(words) == 0 {
		words = []string{text}
	}
	for _, word := range words {
		h := fnv.New64a()
		_, _ = h.Write([]byte(word))
		sum := h.Sum64()
		sign := 1.0
		if sum>>63 == 1 {
			sign = -1
		}
		vec[sum%uint64(dims)] += sign
	}
	var norm float64
	for _, v := range vec {
		norm += v * v
	}
	norm = math.Sqrt(norm)
	out := make([]float32, dims)
	for i, v := range vec {
		out[i] = float32(v / norm)
	}
	return out
}

// encodeVector gives a float list, or base64 of little-endian float32s
// for encoding_format "base64".
func encodeVector(vec []float32, format string) any {
	if format != "base64" {
		return vec
	}
	b := make([]byte, 0, 4*len(vec))
	for _, v := range vec {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// listModels answers GET /v1/models.
func (s *Server) listModels(w http.ResponseWriter, _ *Request, _ Step) {
	data := make([]map[string]any, len(s.opts.models))
	for i, id := range s.opts.models {
		data[i] = modelObject(id)
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// getModel answers GET /v1/models/{id}.
func (s *Server) getModel(w http.ResponseWriter, rec *Request, _ Step) {
	id := strings.TrimPrefix(rec.Path, PathModels+"/")
	if !s.hasModel(id) {
		writeAPIError(w, Fail(http.StatusNotFound).Message(fmt.Sprintf("The model '%s' does not exist", id)))
		return
	}
	writeJSON(w, http.StatusOK, modelObject(id))
}

func modelObject(id string) map[string]any {
	return map[string]any{"id": id, "object": "model", "created": time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix(),
		"owned_by": "system"}
}
