package ai

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/sashabaranov/go-openai"
)

// ImageRequest asks for generated images.
type ImageRequest struct {
	// Prompt describes the image.
	Prompt string
	// Size is "WxH" as the model takes it (e.g. "1024x1024"); empty takes
	// the model's default.
	Size string
	// N is the number of images; zero means one. For dall-e-3, which takes
	// one per request, N requests are made.
	N int
	// Style is dall-e-3's "vivid" or "natural"; empty for other models.
	Style string
}

// ImageEditRequest asks for an edited image.
type ImageEditRequest struct {
	// Image is the source, PNG (JPEG and WebP for gpt-image models).
	Image []byte
	// Mask is an optional PNG of Image's size whose transparent pixels
	// mark what to change.
	Mask []byte
	// Prompt says what to change.
	Prompt string
	// Size is the output size; empty takes the model's default.
	Size string
	// N is the number of images; zero means one.
	N int
}

// Image is a generated image.
type Image struct {
	// Data is the encoded image, PNG unless the provider chose otherwise.
	Data []byte
	// ContentType is Data's type as sniffed ("image/png", ...).
	ContentType string
	// RevisedPrompt is the prompt the model actually used (dall-e-3).
	RevisedPrompt string
}

// GenerateImages makes req.N images from a prompt.
func (p *Provider) GenerateImages(ctx context.Context, req ImageRequest) ([]Image, CallUsage, error) {
	model, err := model(p.cfg.Models.Image, "image", "KILN_MODEL_IMAGE")
	if err != nil {
		return nil, CallUsage{}, err
	}
	if strings.TrimSpace(req.Prompt) == "" {
		return nil, CallUsage{}, invalidRequest("an image request needs a prompt")
	}
	n, perRequest := max(req.N, 1), max(req.N, 1)
	if model == "dall-e-3" {
		perRequest = 1
	}
	var out []Image
	var usage CallUsage
	for len(out) < n {
		ireq := openai.ImageRequest{Prompt: req.Prompt, Model: model, N: min(perRequest, n-len(out)),
			Size: req.Size, Style: req.Style, ResponseFormat: imageResponseFormat(model)}
		imgs, u, err := p.createImages(ctx, ireq)
		usage = usage.Add(u)
		if err != nil {
			return nil, usage, err
		}
		out = append(out, imgs...)
	}
	return out, usage, nil
}

// createImages makes one generation request, with retries.
func (p *Provider) createImages(ctx context.Context, ireq openai.ImageRequest) ([]Image, CallUsage, error) {
	var imgs []Image
	var usage CallUsage
	op := fmt.Sprintf("generate %d images with %s", ireq.N, ireq.Model)
	n, err := p.call(ctx, op, func(ctx context.Context, c *openai.Client) error {
		res, err := c.CreateImage(ctx, ireq)
		if err != nil {
			return err
		}
		imgs, err = decodeImages(res)
		usage.PromptTokens += res.Usage.InputTokens
		usage.CompletionTokens += res.Usage.OutputTokens
		return err
	})
	usage.Requests = n
	if err != nil {
		return nil, usage, err
	}
	usage.Images = len(imgs)
	return imgs, usage, nil
}

// EditImage changes an image as the prompt says.
func (p *Provider) EditImage(ctx context.Context, req ImageEditRequest) ([]Image, CallUsage, error) {
	model, err := model(p.cfg.Models.Image, "image", "KILN_MODEL_IMAGE")
	if err != nil {
		return nil, CallUsage{}, err
	}
	if strings.TrimSpace(req.Prompt) == "" || len(req.Image) == 0 {
		return nil, CallUsage{}, invalidRequest("an image edit needs an image and a prompt")
	}
	var imgs []Image
	var usage CallUsage
	op := fmt.Sprintf("edit an image with %s", model)
	usage.Requests, err = p.call(ctx, op, func(ctx context.Context, c *openai.Client) error {
		res, err := c.CreateEditImage(ctx, editRequest(model, req))
		if err != nil {
			return err
		}
		imgs, err = decodeImages(res)
		usage.PromptTokens += res.Usage.InputTokens
		usage.CompletionTokens += res.Usage.OutputTokens
		return err
	})
	if err != nil {
		return nil, usage, err
	}
	usage.Images = len(imgs)
	return imgs, usage, nil
}

// editRequest builds go-openai's multipart edit request; the readers are
// fresh for every try.
func editRequest(model string, req ImageEditRequest) openai.ImageEditRequest {
	ereq := openai.ImageEditRequest{
		Image: upload("image", req.Image), Prompt: req.Prompt, Model: model,
		N: max(req.N, 1), Size: req.Size, ResponseFormat: imageResponseFormat(model),
	}
	if len(req.Mask) > 0 {
		ereq.Mask = upload("mask", req.Mask)
	}
	return ereq
}

// upload wraps data as a file part with its sniffed image type, which
// OpenAI requires (it rejects application/octet-stream).
func upload(name string, data []byte) io.Reader {
	ct := http.DetectContentType(data)
	ext := strings.TrimPrefix(ct, "image/")
	return openai.WrapReader(bytes.NewReader(data), name+"."+ext, ct)
}

// imageResponseFormat asks for base64 images; the gpt-image models always
// answer so and take no response_format.
func imageResponseFormat(model string) string {
	if strings.HasPrefix(model, "gpt-image") {
		return ""
	}
	return openai.CreateImageResponseFormatB64JSON
}

// decodeImages decodes the b64_json images of a response.
func decodeImages(res openai.ImageResponse) ([]Image, error) {
	if len(res.Data) == 0 {
		return nil, fmt.Errorf("%w: the answer holds no images", ErrProviderUnavailable)
	}
	out := make([]Image, 0, len(res.Data))
	for i, d := range res.Data {
		if d.B64JSON == "" {
			return nil, fmt.Errorf("%w: image %d came as a URL, not as the b64_json asked for", ErrProviderUnavailable, i)
		}
		data, err := base64.StdEncoding.DecodeString(d.B64JSON)
		if err != nil {
			return nil, fmt.Errorf("%w: decoding image %d: %v", ErrProviderUnavailable, i, err)
		}
		out = append(out, Image{Data: data, ContentType: http.DetectContentType(data), RevisedPrompt: d.RevisedPrompt})
	}
	return out, nil
}
