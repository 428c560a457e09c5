package espeak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// Output formats of Encode.
const (
	FormatWAV = "wav"
	FormatMP3 = "mp3"
)

// encoder is the external MP3 encoder; a zero encoder means none.
type encoder struct {
	kind string // "lame" or "ffmpeg"
	bin  string
}

// findMP3Encoder resolves Config.MP3Encoder: "none" gives no encoder, a
// name or path is looked up, and empty tries lame, then ffmpeg.
func findMP3Encoder(name string) encoder {
	candidates := []string{"lame", "ffmpeg"}
	switch name {
	case "none":
		return encoder{}
	case "":
	default:
		candidates = []string{name}
	}
	for _, c := range candidates {
		bin, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		base := strings.ToLower(filepath.Base(bin))
		switch {
		case strings.HasPrefix(base, "lame"):
			return encoder{kind: "lame", bin: bin}
		case strings.HasPrefix(base, "ffmpeg"):
			return encoder{kind: "ffmpeg", bin: bin}
		}
	}
	return encoder{}
}

// args is the command line that reads a WAV on stdin and writes MP3 on
// stdout.
func (enc encoder) args() []string {
	if enc.kind == "lame" {
		return []string{"--quiet", "-b", "64", "-", "-"}
	}
	return []string{"-hide_banner", "-loglevel", "error", "-f", "wav", "-i", "pipe:0",
		"-vn", "-codec:a", "libmp3lame", "-b:a", "64k", "-f", "mp3", "pipe:1"}
}

// Formats lists the formats Encode can produce here: always "wav", and
// "mp3" when lame or ffmpeg was found.
func (e *Engine) Formats() []string {
	if e.mp3.kind == "" {
		return []string{FormatWAV}
	}
	return []string{FormatWAV, FormatMP3}
}

// Encode converts a WAV (as Synthesize returns) into format: "wav" (or
// "") returns it unchanged, "mp3" runs lame or ffmpeg under ctx. Any other format, or
// MP3 with no encoder installed, gives an error wrapping
// ErrFormatUnsupported.
func (e *Engine) Encode(ctx context.Context, wav []byte, format string) ([]byte, error) {
	switch strings.ToLower(format) {
	case FormatWAV, "":
		return wav, nil
	case FormatMP3:
	default:
		return nil, fmt.Errorf("espeak: encoding %q: %w (supported here: %s)",
			format, ErrFormatUnsupported, strings.Join(e.Formats(), ", "))
	}
	if e.mp3.kind == "" {
		return nil, fmt.Errorf("espeak: encoding mp3: %w: neither lame nor ffmpeg is installed", ErrFormatUnsupported)
	}
	if _, err := ParseWAV(wav); err != nil {
		return nil, fmt.Errorf("espeak: encoding mp3: %w", err)
	}
	out, err := e.run(ctx, e.mp3.bin, e.mp3.args(), bytes.NewReader(wav))
	if err != nil {
		return nil, fmt.Errorf("espeak: encoding mp3: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("espeak: encoding mp3: the encoder produced no output")
	}
	return out, nil
}
