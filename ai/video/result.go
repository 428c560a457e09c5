package video

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/kilnhq/kiln/ai"
)

// File is a file of a model's output, as fal describes it.
type File struct {
	// URL is where the file is served (fal's CDN); fetch it with
	// Download, without the API key.
	URL string
	// ContentType is the media type fal reports, e.g. video/mp4.
	ContentType string
	// FileName and Size (bytes) are fal's, when it reports them.
	FileName string
	Size     int64
	// Width, Height and Seconds are the video's, when the model reports
	// them.
	Width, Height int
	Seconds       float64
}

// Result is the output of a completed request.
type Result struct {
	// Videos are the generated videos, at least one.
	Videos []File
	// Seconds is the duration of the first video when the output tells
	// it; zero when unknown.
	Seconds float64
	// Raw is the model's output as fal returned it.
	Raw json.RawMessage
}

// Video is the first generated video.
func (r Result) Video() File {
	if len(r.Videos) == 0 {
		return File{}
	}
	return r.Videos[0]
}

// fileJSON is a fal File object; numbers are read loosely, as models
// differ.
type fileJSON struct {
	URL         string       `json:"url"`
	ContentType string       `json:"content_type"`
	FileName    string       `json:"file_name"`
	FileSize    looseNumber  `json:"file_size"`
	Width       looseNumber  `json:"width"`
	Height      looseNumber  `json:"height"`
	Duration    looseNumber  `json:"duration"`
	Frames      *looseNumber `json:"num_frames"`
	FPS         *looseNumber `json:"fps"`
}

// outputJSON is the part of a video model's output the client reads.
type outputJSON struct {
	Video    json.RawMessage `json:"video"`
	Videos   []fileJSON      `json:"videos"`
	Duration looseNumber     `json:"duration"`
}

// ParseResult reads a video model's output, from Result or a webhook's
// payload: {"video": {url, content_type, file_name, file_size, ...}} or
// {"videos": [...]}. An output without a video fails with
// ai.ErrProviderRequestRejected: the model is not a video model.
func ParseResult(raw []byte) (Result, error) {
	var out outputJSON
	if err := json.Unmarshal(raw, &out); err != nil {
		return Result{}, provider(ai.ErrProviderUnavailable, fmt.Sprintf(" (fal's result is not a JSON object: %v)", err))
	}
	files := out.Videos
	if f, ok := videoObject(out.Video); ok {
		files = append([]fileJSON{f}, files...)
	}
	res := Result{Raw: json.RawMessage(raw)}
	for _, f := range files {
		if f.URL != "" {
			res.Videos = append(res.Videos, f.file())
		}
	}
	if len(res.Videos) == 0 {
		return Result{}, provider(ai.ErrProviderRequestRejected,
			" (the model's output has no video URL; check that the model is a video model)")
	}
	res.Seconds = res.Videos[0].Seconds
	if res.Seconds == 0 {
		res.Seconds = float64(out.Duration)
		res.Videos[0].Seconds = res.Seconds
	}
	return res, nil
}

// videoObject reads "video": a File object, or a bare URL string.
func videoObject(raw json.RawMessage) (fileJSON, bool) {
	var f fileJSON
	if json.Unmarshal(raw, &f) == nil && f.URL != "" {
		return f, true
	}
	var u string
	if json.Unmarshal(raw, &u) == nil && u != "" {
		return fileJSON{URL: u}, true
	}
	return fileJSON{}, false
}

func (f fileJSON) file() File {
	secs := float64(f.Duration)
	if secs == 0 && f.Frames != nil && f.FPS != nil && *f.FPS > 0 {
		secs = float64(*f.Frames) / float64(*f.FPS)
	}
	return File{URL: f.URL, ContentType: f.ContentType, FileName: f.FileName, Size: int64(f.FileSize),
		Width: int(f.Width), Height: int(f.Height), Seconds: secs}
}

// looseNumber reads a JSON number, or a string holding one ("8", "8s");
// anything else is zero.
type looseNumber float64

// UnmarshalJSON reads a number or a numeric string, never failing.
func (n *looseNumber) UnmarshalJSON(b []byte) error {
	var f float64
	if json.Unmarshal(b, &f) == nil {
		*n = looseNumber(f)
		return nil
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		s = strings.TrimSuffix(strings.TrimSpace(s), "s")
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			*n = looseNumber(f)
		}
	}
	return nil
}
