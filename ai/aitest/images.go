package aitest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// imageRequest is an image generation or edit request.
type imageRequest struct {
	Prompt         string `json:"prompt"`
	Model          string `json:"model"`
	N              int    `json:"n"`
	Size           string `json:"size"`
	ResponseFormat string `json:"response_format"`
	OutputFormat   string `json:"output_format"`
}

// imageSpec is a validated request: what to render and how to return it.
type imageSpec struct {
	imageRequest
	width, height int
	b64           bool
	seed          string
}

// images answers POST /v1/images/generations.
func (s *Server) images(w http.ResponseWriter, rec *Request, _ Step) {
	var req imageRequest
	if err := json.Unmarshal(rec.Body, &req); err != nil {
		writeAPIError(w, badRequest("We could not parse the JSON body of your request. ("+err.Error()+")", ""))
		return
	}
	if req.Model == "" {
		req.Model = "dall-e-2" // OpenAI's default for generations
	}
	spec, bad := s.checkImageRequest(req, 0, 0)
	if bad.fails() {
		writeAPIError(w, bad)
		return
	}
	s.writeImages(w, spec)
}

// imageEdits answers POST /v1/images/edits (multipart: image, optional
// mask, prompt, model, n, size, response_format).
func (s *Server) imageEdits(w http.ResponseWriter, rec *Request, _ Step) {
	if rec.Form == nil {
		writeAPIError(w, badRequest("Expected a multipart/form-data body.", ""))
		return
	}
	img, bad := editInput(rec)
	if bad.fails() {
		writeAPIError(w, bad)
		return
	}
	req := imageRequest{Prompt: rec.Form["prompt"], Model: rec.Form["model"], Size: rec.Form["size"],
		ResponseFormat: rec.Form["response_format"], OutputFormat: rec.Form["output_format"]}
	req.N, _ = strconv.Atoi(rec.Form["n"])
	if req.Model == "" {
		req.Model = "dall-e-2"
	}
	if req.Model == "dall-e-2" && (img.Width != img.Height || img.Format != "png") {
		writeAPIError(w, badRequest("Invalid input image - format must be a square PNG for dall-e-2.", "image"))
		return
	}
	spec, bad := s.checkImageRequest(req, img.Width, img.Height)
	if bad.fails() {
		writeAPIError(w, bad)
		return
	}
	spec.seed += fmt.Sprintf("|%dx%d|%d", img.Width, img.Height, len(rec.Files["image"].Data))
	s.writeImages(w, spec)
}

// editInput checks the uploaded image and mask as OpenAI does: an image
// part with an image content type (a part sent as
// application/octet-stream is rejected), decodable, and a mask of the
// same size.
func editInput(rec *Request) (Image, Step) {
	f, ok := rec.Files["image"]
	if !ok {
		f, ok = rec.Files["image[]"]
	}
	if !ok {
		return Image{}, badRequest("Missing required parameter: 'image'.", "image")
	}
	img, bad := decodeUpload("image", f)
	if bad.fails() {
		return img, bad
	}
	if m, ok := rec.Files["mask"]; ok {
		mask, bad := decodeUpload("mask", m)
		if bad.fails() {
			return img, bad
		}
		if mask.Width != img.Width || mask.Height != img.Height || mask.Format != "png" {
			return img, badRequest("Invalid mask image: it must be a PNG of the same size as the image.", "mask")
		}
	}
	return img, OK()
}

func decodeUpload(field string, f File) (Image, Step) {
	supported := []string{"image/png", "image/jpeg", "image/webp"}
	ct, _, _ := strings.Cut(f.ContentType, ";")
	if !slices.Contains(supported, ct) {
		return Image{}, badRequest(fmt.Sprintf("Invalid file '%s': unsupported mimetype ('%s'). Supported file formats "+
			"are 'image/jpeg', 'image/png', and 'image/webp'.", field, ct), field)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(f.Data))
	if err != nil {
		return Image{}, badRequest(fmt.Sprintf("Invalid image file '%s': it could not be decoded.", field), field)
	}
	return Image{Format: format, Width: cfg.Width, Height: cfg.Height}, OK()
}

// checkImageRequest applies OpenAI's per-model rules on model, prompt, n,
// size and formats. srcW and srcH are an edit's input size (0 for
// generations), used when the size is empty or "auto".
func (s *Server) checkImageRequest(req imageRequest, srcW, srcH int) (imageSpec, Step) {
	spec := imageSpec{imageRequest: req}
	if !s.hasModel(req.Model) {
		return spec, Fail(http.StatusNotFound).Message(
			fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", req.Model))
	}
	if req.Prompt == "" {
		return spec, badRequest("Missing required parameter: 'prompt'.", "prompt")
	}
	if limit := promptLimit(req.Model); utf8.RuneCountInString(req.Prompt) > limit {
		return spec, badRequest(fmt.Sprintf("'prompt' is too long. Maximum length is %d characters.", limit), "prompt")
	}
	spec.N = max(req.N, 1)
	if spec.N > 10 || (req.Model == "dall-e-3" && spec.N != 1) {
		return spec, badRequest("Invalid 'n': dall-e-3 takes n=1; other models 1 to 10.", "n")
	}
	var bad Step
	if spec.width, spec.height, bad = imageSize(req.Model, req.Size, srcW, srcH); bad.fails() {
		return spec, bad
	}
	if spec.b64, bad = b64Format(req); bad.fails() {
		return spec, bad
	}
	spec.seed = req.Model + "|" + req.Prompt
	return spec, OK()
}

func promptLimit(model string) int {
	switch {
	case model == "dall-e-2":
		return 1000
	case model == "dall-e-3":
		return 4000
	}
	return 32000
}

// imageSize parses the size against the model's allowed sizes; models
// unknown to OpenAI's rules take any WxH up to 4096.
func imageSize(model, size string, srcW, srcH int) (int, int, Step) {
	allowed := map[string][]string{
		"dall-e-2":    {"256x256", "512x512", "1024x1024"},
		"dall-e-3":    {"1024x1024", "1792x1024", "1024x1792"},
		"gpt-image-1": {"1024x1024", "1536x1024", "1024x1536", "auto"},
	}[model]
	if size == "" || size == "auto" {
		if srcW > 0 {
			return min(srcW, 4096), min(srcH, 4096), OK()
		}
		size = "1024x1024"
	}
	bad := badRequest(fmt.Sprintf("'%s' is not one of %s - 'size'", size, strings.Join(allowed, ", ")), "size")
	if allowed != nil && !slices.Contains(allowed, size) {
		return 0, 0, bad
	}
	ws, hs, _ := strings.Cut(size, "x")
	wd, err1 := strconv.Atoi(ws)
	ht, err2 := strconv.Atoi(hs)
	if err1 != nil || err2 != nil || wd < 1 || ht < 1 || wd > 4096 || ht > 4096 {
		return 0, 0, bad
	}
	return wd, ht, OK()
}

// b64Format reports whether images go back as b64_json: always for the
// GPT image models, which have no URL output, else when asked.
func b64Format(req imageRequest) (bool, Step) {
	switch req.OutputFormat {
	case "", "png", "jpeg":
	default:
		return false, badRequest(fmt.Sprintf("aitest: output_format %q is not supported by the test server "+
			"(png or jpeg).", req.OutputFormat), "output_format")
	}
	switch req.ResponseFormat {
	case "", "url":
		return strings.HasPrefix(req.Model, "gpt-image"), OK()
	case "b64_json":
		return true, OK()
	}
	return false, badRequest(fmt.Sprintf("'%s' is not one of ['url', 'b64_json'] - 'response_format'",
		req.ResponseFormat), "response_format")
}

// writeImages renders the images and answers OpenAI's ImagesResponse.
func (s *Server) writeImages(w http.ResponseWriter, spec imageSpec) {
	data := make([]map[string]any, spec.N)
	for i := range data {
		img, ctype, ext := renderImage(spec, i)
		item := map[string]any{}
		if spec.b64 {
			item["b64_json"] = base64.StdEncoding.EncodeToString(img)
		} else {
			item["url"] = s.storeFile(fmt.Sprintf("img-%06d.%s", s.nextID(), ext), ctype, img)
		}
		if spec.Model == "dall-e-3" {
			item["revised_prompt"] = "aitest revised: " + spec.Prompt
		}
		data[i] = item
	}
	resp := map[string]any{"created": time.Now().Unix(), "data": data}
	if strings.HasPrefix(spec.Model, "gpt-image") {
		in, out := countTokens(spec.Prompt), 1056*spec.N
		resp["usage"] = map[string]any{"input_tokens": in, "output_tokens": out, "total_tokens": in + out,
			"input_tokens_details": map[string]int{"text_tokens": in, "image_tokens": 0}}
	}
	writeJSON(w, http.StatusOK, resp)
}

// renderImage draws image i of a request: a background and a centred
// block in two colours derived from the request, so images differ by
// prompt and index but are the same for the same request.
func renderImage(spec imageSpec, i int) ([]byte, string, string) {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%s|%d", spec.seed, i)
	sum := h.Sum64()
	bg := color.RGBA{uint8(sum), uint8(sum >> 8), uint8(sum >> 16), 255}
	fg := color.RGBA{255 - bg.R, 255 - bg.G, 255 - bg.B, 255}
	img := image.NewPaletted(image.Rect(0, 0, spec.width, spec.height), color.Palette{bg, fg})
	for y := spec.height / 4; y < spec.height*3/4; y++ {
		for x := spec.width / 4; x < spec.width*3/4; x++ {
			img.SetColorIndex(x, y, 1)
		}
	}
	var buf bytes.Buffer
	if spec.OutputFormat == "jpeg" {
		_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80})
		return buf.Bytes(), "image/jpeg", "jpg"
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	_ = enc.Encode(&buf, img)
	return buf.Bytes(), "image/png", "png"
}
