// Package espeak is a local text-to-speech engine over the espeak-ng
// command (Debian package espeak-ng; deploy/dev/tools.sh installs it). It
// lets Kiln speak text with no API key configured.
//
// Synthesize returns a WAV (16-bit mono PCM at 22050 Hz with the stock
// voices). Long text is split at sentence boundaries, each chunk is spoken
// by its own espeak-ng run, and the WAVs are joined into one with correct
// RIFF and data sizes. User text never reaches the command line: it is
// written to espeak-ng's standard input (--stdin), and the voice name is
// checked against a strict pattern before it is passed as the value of -v.
// Every run is bound to the caller's context and killed when it is done.
//
// Encode turns a WAV into MP3 when lame or ffmpeg is installed; without
// them MP3 requests fail with ErrFormatUnsupported. ParseWAV and JoinWAV
// are the WAV helpers the engine uses, exported for callers that check or
// combine audio.
package espeak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Defaults and limits of the engine.
const (
	// DefaultBinary is the command looked up on PATH when Config.Binary is empty.
	DefaultBinary = "espeak-ng"
	// Package is the Debian package that provides DefaultBinary.
	Package = "espeak-ng"
	// DefaultVoice is used when Synthesize gets an empty voice.
	DefaultVoice = "en"
	// DefaultSpeedWPM is espeak-ng's own default speed, in words per minute.
	DefaultSpeedWPM = 175
	// MinSpeedWPM and MaxSpeedWPM bound the speed espeak-ng accepts.
	MinSpeedWPM = 80
	MaxSpeedWPM = 450
	// DefaultMaxChunkChars bounds the text of one espeak-ng run.
	DefaultMaxChunkChars = 3000
	// maxStderr caps how much of a failing run's standard error is kept.
	maxStderr = 4096
	// waitDelay bounds the wait for a killed process's pipes to close.
	waitDelay = 2 * time.Second
)

// ErrNotInstalled is wrapped by New when the espeak-ng binary is missing.
var ErrNotInstalled = errors.New("espeak-ng is not installed")

// ErrFormatUnsupported is wrapped by Encode for an output format the engine
// cannot produce on this machine (MP3 without lame or ffmpeg, or any format
// other than wav and mp3).
var ErrFormatUnsupported = errors.New("audio format not supported")

// Config configures an Engine. The zero value finds espeak-ng on PATH.
type Config struct {
	// Binary is the espeak-ng command: a path, or a name looked up on PATH.
	// Empty means DefaultBinary.
	Binary string
	// DataPath, when set, is passed as --path: the directory that holds
	// espeak-ng-data. Empty uses the binary's built-in location.
	DataPath string
	// MaxChunkChars bounds the text of one espeak-ng run, in characters;
	// longer text is split at sentence boundaries. Zero means
	// DefaultMaxChunkChars.
	MaxChunkChars int
	// MP3Encoder is the lame or ffmpeg command used by Encode for MP3: a
	// path or a name looked up on PATH; its base name (lame or ffmpeg)
	// says which command line it takes. Empty looks for lame, then ffmpeg,
	// on PATH. "none" turns MP3 off.
	MP3Encoder string
}

// Engine speaks text through espeak-ng. It is safe for concurrent use;
// every call runs its own processes.
type Engine struct {
	bin      string
	dataPath string
	maxChunk int
	mp3      encoder
}

// New finds the espeak-ng binary and an optional MP3 encoder. A missing
// binary gives an error wrapping ErrNotInstalled that names the package.
func New(cfg Config) (*Engine, error) {
	name := cfg.Binary
	if name == "" {
		name = DefaultBinary
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		return nil, fmt.Errorf("espeak: finding %q: %w (install the Debian package %s; deploy/dev/tools.sh does): %w",
			name, ErrNotInstalled, Package, err)
	}
	maxChunk := cfg.MaxChunkChars
	if maxChunk <= 0 {
		maxChunk = DefaultMaxChunkChars
	}
	return &Engine{bin: bin, dataPath: cfg.DataPath, maxChunk: maxChunk, mp3: findMP3Encoder(cfg.MP3Encoder)}, nil
}

// Synthesize speaks text with the voice (an espeak-ng voice such as "en",
// "en-us", "de" or "en-us+f3"; empty means DefaultVoice) at speedWPM words
// per minute (0 means DefaultSpeedWPM) and returns a WAV. Text longer than
// the chunk limit is spoken in chunks that are joined into one WAV.
func (e *Engine) Synthesize(ctx context.Context, text, voice string, speedWPM int) ([]byte, error) {
	voice, speed, err := checkArgs(voice, speedWPM)
	if err != nil {
		return nil, err
	}
	chunks := splitText(text, e.maxChunk)
	if len(chunks) == 0 {
		return nil, errors.New("espeak: synthesizing: the text is empty")
	}
	parts := make([][]byte, 0, len(chunks))
	for i, chunk := range chunks {
		wav, err := e.speak(ctx, chunk, voice, speed)
		if err != nil {
			return nil, fmt.Errorf("espeak: synthesizing chunk %d of %d: %w", i+1, len(chunks), err)
		}
		parts = append(parts, wav)
	}
	return JoinWAV(parts...)
}

// checkArgs applies the defaults to voice and speed and rejects values
// espeak-ng would not take.
func checkArgs(voice string, speedWPM int) (string, int, error) {
	if voice == "" {
		voice = DefaultVoice
	}
	if !validVoice(voice) {
		return "", 0, fmt.Errorf("espeak: voice %q is not a valid espeak-ng voice name", voice)
	}
	if speedWPM == 0 {
		speedWPM = DefaultSpeedWPM
	}
	if speedWPM < MinSpeedWPM || speedWPM > MaxSpeedWPM {
		return "", 0, fmt.Errorf("espeak: speed %d wpm is outside %d-%d", speedWPM, MinSpeedWPM, MaxSpeedWPM)
	}
	return voice, speedWPM, nil
}

// validVoice accepts voice names, language codes, voice files and
// variants ("en", "en-gb-x-rp", "gmw/en-US", "en-us+f3"): ASCII letters,
// digits and _ - + . /, starting with a letter or digit, so a voice can
// never read as an option.
func validVoice(v string) bool {
	if len(v) > 64 || v == "" || !isAlnum(v[0]) || strings.Contains(v, "..") {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isAlnum(c) && !strings.ContainsRune("_-+./", rune(c)) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// speak runs espeak-ng once on text, fed through standard input, and
// returns the WAV it writes to standard output.
func (e *Engine) speak(ctx context.Context, text, voice string, speed int) ([]byte, error) {
	args := []string{"--stdout", "--stdin", "-b", "1", "-v", voice, "-s", strconv.Itoa(speed)}
	if e.dataPath != "" {
		args = append(args, "--path="+e.dataPath)
	}
	out, err := e.run(ctx, e.bin, args, strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("espeak-ng produced no audio")
	}
	return out, nil
}

// run runs a command under ctx with stdin and returns its standard output.
// The process is killed when ctx is done; the error then wraps ctx.Err().
func (e *Engine) run(ctx context.Context, bin string, args []string, stdin io.Reader) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = stdin
	var stdout bytes.Buffer
	stderr := &capped{max: maxStderr}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("running %s: %w", bin, ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("running %s: %w: %s", bin, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// capped is a writer that keeps the first max bytes written to it.
type capped struct {
	buf bytes.Buffer
	max int
}

// Write keeps what fits and reports everything as written.
func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// String returns what was kept.
func (c *capped) String() string { return c.buf.String() }
