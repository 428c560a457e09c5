package espeak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newEngine returns an engine over the installed espeak-ng. The tests need
// the real command: deploy/dev/tools.sh installs it, and CI runs that.
func newEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v (run deploy/dev/tools.sh)", err)
	}
	return e
}

// speechInfo synthesizes text and parses the WAV.
func speechInfo(t *testing.T, e *Engine, text string) (Info, []byte) {
	t.Helper()
	wav, err := e.Synthesize(context.Background(), text, "en", 0)
	if err != nil {
		t.Fatalf("Synthesize(%.30q): %v", text, err)
	}
	info, err := ParseWAV(wav)
	if err != nil {
		t.Fatalf("ParseWAV: %v", err)
	}
	return info, wav
}

func TestSynthesizeSentence(t *testing.T) {
	e := newEngine(t, Config{})
	info, wav := speechInfo(t, e, "Kiln turns this sentence into speech.")
	if info.Format != 1 || info.Channels != 1 || info.BitsPerSample != 16 || info.SampleRate != 22050 {
		t.Errorf("format = %+v, want 16-bit mono PCM at 22050 Hz", info)
	}
	if info.Duration < 1500*time.Millisecond || info.Duration > 6*time.Second {
		t.Errorf("duration = %v, want 1.5-6 s for a six-word sentence", info.Duration)
	}
	checkSizes(t, wav)
	if peak := peakAmplitude(wav[44:]); peak < 3000 {
		t.Errorf("peak amplitude = %d, want audible speech (> 3000)", peak)
	}
}

// peakAmplitude returns the largest absolute 16-bit sample.
func peakAmplitude(pcm []byte) int {
	peak := 0
	for i := 0; i+1 < len(pcm); i += 2 {
		v := int(int16(uint16(pcm[i]) | uint16(pcm[i+1])<<8))
		peak = max(peak, v, -v)
	}
	return peak
}

func TestSynthesizeSpeedAndVoice(t *testing.T) {
	e := newEngine(t, Config{})
	ctx := context.Background()
	text := "The same words, spoken at two speeds."
	dur := func(voice string, wpm int) time.Duration {
		wav, err := e.Synthesize(ctx, text, voice, wpm)
		if err != nil {
			t.Fatalf("Synthesize(%s, %d): %v", voice, wpm, err)
		}
		info, err := ParseWAV(wav)
		if err != nil {
			t.Fatalf("ParseWAV: %v", err)
		}
		return info.Duration
	}
	slow, fast := dur("en-us", 100), dur("en-us", 300)
	if float64(slow) < 1.8*float64(fast) {
		t.Errorf("100 wpm took %v and 300 wpm %v; want the slow one much longer", slow, fast)
	}
	if d := dur("de", 0); d <= 0 {
		t.Errorf("German voice gave %v of audio", d)
	}
}

func TestSynthesizeLongTextJoined(t *testing.T) {
	sentences := []string{
		"This is the first sentence of a longer text.",
		"Here comes a second one, a little longer than the first.",
		"The third sentence asks a question?",
		"And the fourth one ends the paragraph!",
	}
	text := strings.Join(sentences, " ")
	chunked := newEngine(t, Config{MaxChunkChars: 60})
	if n := len(splitText(text, 60)); n != len(sentences) {
		t.Fatalf("the text splits into %d chunks, want %d", n, len(sentences))
	}
	joined, wav := speechInfo(t, chunked, text)
	checkSizes(t, wav)

	whole := newEngine(t, Config{})
	var sum time.Duration
	for _, s := range sentences {
		info, _ := speechInfo(t, whole, s)
		sum += info.Duration
	}
	if diff := math.Abs(float64(joined.Duration - sum)); diff > 0.02*float64(sum) {
		t.Errorf("joined duration %v, want about the sum of the parts %v", joined.Duration, sum)
	}
	unsplit, _ := speechInfo(t, whole, text)
	if ratio := float64(joined.Duration) / float64(unsplit.Duration); ratio < 0.8 || ratio > 1.25 {
		t.Errorf("chunked %v vs unsplit %v: ratio %.2f, want about 1", joined.Duration, unsplit.Duration, ratio)
	}
}

func TestSynthesizeTextThatLooksLikeFlags(t *testing.T) {
	e := newEngine(t, Config{})
	dir := t.TempDir()
	evil := filepath.Join(dir, "evil.wav")
	text := "-w " + evil + " --version -v de --help"
	info, _ := speechInfo(t, e, text)
	if info.Duration < time.Second {
		t.Errorf("duration = %v, want the flags spoken as words (> 1 s)", info.Duration)
	}
	if _, err := os.Stat(evil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("espeak-ng took the text as options: %s exists (stat: %v)", evil, err)
	}
}

func TestSynthesizeRejectsBadArgs(t *testing.T) {
	e := newEngine(t, Config{})
	tests := []struct {
		name, text, voice string
		wpm               int
		want              string
	}{
		{"voice as flag", "hello", "--stdout", 0, "not a valid espeak-ng voice"},
		{"voice with space", "hello", "en -w x", 0, "not a valid espeak-ng voice"},
		{"voice path escape", "hello", "en/../../x", 0, "not a valid espeak-ng voice"},
		{"too slow", "hello", "en", 10, "outside 80-450"},
		{"too fast", "hello", "en", 1000, "outside 80-450"},
		{"empty text", " \n ", "en", 0, "text is empty"},
		{"unknown voice", "hello", "xx-nosuchvoice", 0, "voice does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Synthesize(context.Background(), tc.text, tc.voice, tc.wpm)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Synthesize error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSynthesizeCancelKillsProcess(t *testing.T) {
	real, err := exec.LookPath(DefaultBinary)
	if err != nil {
		t.Fatalf("espeak-ng not found: %v (run deploy/dev/tools.sh)", err)
	}
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	wrapper := filepath.Join(dir, "espeak-ng")
	script := fmt.Sprintf("#!/bin/sh\necho $$ > %s\nexec %s \"$@\"\n", pidFile, real)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, Config{Binary: wrapper, MaxChunkChars: 1 << 20})
	long := strings.Repeat("This text takes espeak-ng many seconds to speak. ", 800)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { _, err := e.Synthesize(ctx, long, "en", 0); done <- err }()
	pid := waitForPID(t, pidFile)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Synthesize error = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Synthesize did not return after cancel")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("espeak-ng (pid %d) still exists after cancel: kill -0 gave %v", pid, err)
	}
	t.Logf("cancelled after %v", time.Since(start))
}

// waitForPID waits for the wrapper script to write its pid.
func waitForPID(t *testing.T, file string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(file)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("espeak-ng never started")
	return 0
}

func TestNewMissingBinary(t *testing.T) {
	for _, bin := range []string{"/nonexistent/espeak-ng", "no-such-espeak-binary"} {
		_, err := New(Config{Binary: bin})
		if !errors.Is(err, ErrNotInstalled) {
			t.Fatalf("New(%q) error = %v, want ErrNotInstalled", bin, err)
		}
		if !strings.Contains(err.Error(), "Debian package espeak-ng") {
			t.Errorf("New(%q) error %q does not name the package", bin, err)
		}
	}
}

func TestVoices(t *testing.T) {
	e := newEngine(t, Config{})
	voices, err := e.Voices(context.Background())
	if err != nil {
		t.Fatalf("Voices: %v", err)
	}
	byLang := map[string]Voice{}
	for _, v := range voices {
		if strings.HasPrefix(v.File, "mb/") {
			t.Errorf("MBROLA voice listed: %+v", v)
		}
		if !validVoice(v.Language) {
			t.Errorf("voice language %q would be rejected by Synthesize", v.Language)
		}
		byLang[v.Language] = v
	}
	us, ok := byLang["en-us"]
	if !ok || us.Name == "" || us.File == "" || us.Priority < 1 {
		t.Fatalf("en-us voice = %+v (found %v), want a named voice with a file and a priority", us, ok)
	}
	if len(voices) < 50 {
		t.Errorf("got %d voices, want the stock set of over 50", len(voices))
	}
}

func TestParseVoices(t *testing.T) {
	out := []byte("Pty Language       Age/Gender VoiceName          File                 Other Languages\n" +
		" 2  en-gb           --/M      English_(Great_Britain) gmw/en               (en 2)\n" +
		" 3  en-uk           --/M      english-mb-en1     mb/mb-en1            (en-gb 3)(en 2)\n" +
		" 5  fr-fr           --/F      French             roa/fr               (fr 5)(fr-be 6)\n")
	voices, err := parseVoices(out)
	if err != nil {
		t.Fatalf("parseVoices: %v", err)
	}
	want := []Voice{
		{Language: "en-gb", Name: "English_(Great_Britain)", Gender: "M", File: "gmw/en", Priority: 2, OtherLanguages: []string{"en"}},
		{Language: "fr-fr", Name: "French", Gender: "F", File: "roa/fr", Priority: 5, OtherLanguages: []string{"fr", "fr-be"}},
	}
	if fmt.Sprint(voices) != fmt.Sprint(want) {
		t.Errorf("parseVoices = %+v, want %+v", voices, want)
	}
}

func TestEncode(t *testing.T) {
	e := newEngine(t, Config{MP3Encoder: "none"})
	ctx := context.Background()
	wav, err := e.Synthesize(ctx, "Short.", "en", 0)
	if err != nil {
		t.Fatalf("Synthesize: %v", err)
	}
	if got, err := e.Encode(ctx, wav, "WAV"); err != nil || !bytes.Equal(got, wav) {
		t.Errorf("Encode(wav) changed the audio or failed: %v", err)
	}
	for _, format := range []string{"mp3", "ogg"} {
		if _, err := e.Encode(ctx, wav, format); !errors.Is(err, ErrFormatUnsupported) {
			t.Errorf("Encode(%s) without encoder = %v, want ErrFormatUnsupported", format, err)
		}
	}
	if got := e.Formats(); len(got) != 1 || got[0] != FormatWAV {
		t.Errorf("Formats = %v, want [wav]", got)
	}
}

// TestEncodeMP3Plumbing runs Encode through a stand-in lame that checks its
// command line and echoes a fake MP3 header plus the WAV length, so the
// encoder wiring is tested on machines without lame or ffmpeg.
func TestEncodeMP3Plumbing(t *testing.T) {
	dir := t.TempDir()
	lame := filepath.Join(dir, "lame")
	script := "#!/bin/sh\n[ \"$*\" = \"--quiet -b 64 - -\" ] || { echo \"bad args: $*\" >&2; exit 2; }\n" +
		"printf 'ID3'; wc -c\n"
	if err := os.WriteFile(lame, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, Config{MP3Encoder: lame})
	wav := pcmWAV(22050, 1, 16, 1000, 1, false)
	out, err := e.Encode(context.Background(), wav, "mp3")
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if want := fmt.Sprintf("ID3%d\n", len(wav)); string(out) != want {
		t.Errorf("encoder output = %q, want %q", out, want)
	}
	if _, err := e.Encode(context.Background(), []byte("not a wav"), "mp3"); err == nil {
		t.Error("Encode accepted input that is not a WAV")
	}
}

// TestEncodeMP3Real encodes with the real lame or ffmpeg where one is
// installed; Kiln does not require either.
func TestEncodeMP3Real(t *testing.T) {
	e := newEngine(t, Config{})
	if len(e.Formats()) < 2 {
		t.Skip("neither lame nor ffmpeg is installed; MP3 is optional")
	}
	ctx := context.Background()
	wav, err := e.Synthesize(ctx, "An MP3 test.", "en", 0)
	if err != nil {
		t.Fatalf("Synthesize: %v", err)
	}
	mp3, err := e.Encode(ctx, wav, "mp3")
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	id3 := bytes.HasPrefix(mp3, []byte("ID3"))
	sync := len(mp3) > 2 && mp3[0] == 0xFF && mp3[1]&0xE0 == 0xE0
	if !id3 && !sync {
		t.Errorf("output starts % x, want an ID3 tag or an MPEG frame sync", mp3[:min(4, len(mp3))])
	}
}
