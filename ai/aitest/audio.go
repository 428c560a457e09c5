package aitest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Speech output of the test server.
const (
	// SpeechSampleRate is the rate of WAV and PCM speech, as OpenAI's:
	// 24 kHz, 16-bit, mono.
	SpeechSampleRate = 24000
	// SpeechCharsPerSecond is the speaking rate at speed 1: the audio of an
	// input lasts its length in characters divided by this.
	SpeechCharsPerSecond = 15
	// MP3SampleRate is the rate of MP3 speech (MPEG-1 Layer III frames of
	// 1152 samples, 24 ms each).
	MP3SampleRate = 48000
	// maxSpeechInput is OpenAI's limit on the input of one speech request.
	maxSpeechInput = 4096
)

// speechRequest is a POST /v1/audio/speech body.
type speechRequest struct {
	Model          string  `json:"model"`
	Input          string  `json:"input"`
	Voice          string  `json:"voice"`
	ResponseFormat string  `json:"response_format"`
	Speed          float64 `json:"speed"`
}

// speech answers POST /v1/audio/speech with real audio whose length
// follows the input: WAV or raw PCM of tones, one per word, or MP3 of
// silent frames. Omitting response_format gives MP3, as OpenAI does.
func (s *Server) speech(w http.ResponseWriter, rec *Request, _ Step) {
	var req speechRequest
	if err := json.Unmarshal(rec.Body, &req); err != nil {
		writeAPIError(w, badRequest("We could not parse the JSON body of your request. ("+err.Error()+")", ""))
		return
	}
	if !s.checkModel(w, req.Model) {
		return
	}
	if bad := checkSpeech(&req); bad.fails() {
		writeAPIError(w, bad)
		return
	}
	dur := speechDuration(req.Input, req.Speed)
	var body []byte
	var ctype string
	switch req.ResponseFormat {
	case "mp3":
		body, ctype = silentMP3(dur), "audio/mpeg"
	case "wav":
		body, ctype = wavFile(speechPCM(req.Input, req.Speed)), "audio/wav"
	case "pcm":
		body, ctype = speechPCM(req.Input, req.Speed), "audio/pcm"
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// checkSpeech applies OpenAI's rules and the defaults (mp3, speed 1).
func checkSpeech(req *speechRequest) Step {
	if req.Input == "" {
		return badRequest("Missing required parameter: 'input'.", "input")
	}
	if n := utf8.RuneCountInString(req.Input); n > maxSpeechInput {
		return badRequest(fmt.Sprintf("[{'type': 'string_too_long', 'loc': ('body', 'input'), 'msg': "+
			"'String should have at most %d characters', 'input': '%d characters'}]", maxSpeechInput, n), "input")
	}
	voices := []string{"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse"}
	openAIModel := strings.HasPrefix(req.Model, "tts-") || strings.HasSuffix(req.Model, "-tts")
	if req.Voice == "" || (openAIModel && !slices.Contains(voices, req.Voice)) {
		return badRequest(fmt.Sprintf("Invalid value for 'voice': %q; expected one of %s.",
			req.Voice, strings.Join(voices, ", ")), "voice")
	}
	if req.Speed == 0 {
		req.Speed = 1
	}
	if req.Speed < 0.25 || req.Speed > 4 {
		return badRequest(fmt.Sprintf("%g is out of range 0.25 to 4.0 - 'speed'", req.Speed), "speed")
	}
	switch req.ResponseFormat {
	case "":
		req.ResponseFormat = "mp3"
	case "mp3", "wav", "pcm":
	default:
		return badRequest(fmt.Sprintf("aitest: response_format %q is not produced by the test server; "+
			"ask for mp3, wav or pcm.", req.ResponseFormat), "response_format")
	}
	return OK()
}

// speechDuration is how long speaking text takes at speed.
func speechDuration(text string, speed float64) time.Duration {
	secs := float64(utf8.RuneCountInString(text)) / SpeechCharsPerSecond / speed
	return time.Duration(secs * float64(time.Second))
}

// speechPCM renders text as 16-bit mono PCM at SpeechSampleRate: a tone
// per word (pitch from the word, length from its characters), and a
// silence per space, so the audio is audible and as long as the text.
func speechPCM(text string, speed float64) []byte {
	perChar := float64(SpeechSampleRate) / SpeechCharsPerSecond / speed
	total := int(float64(utf8.RuneCountInString(text)) * perChar)
	pcm := make([]byte, 0, 2*total)
	pos := 0
	for _, word := range strings.SplitAfter(text, " ") {
		n := int(float64(utf8.RuneCountInString(word)) * perChar)
		n = min(n, total-pos)
		pcm = appendTone(pcm, word, n, int(perChar))
		pos += n
	}
	return append(pcm, make([]byte, 2*(total-pos))...)
}

// appendTone appends n samples: a faded sine for the word, whose last
// gap samples (the space) are silent.
func appendTone(pcm []byte, word string, n, gap int) []byte {
	h := fnv.New32a()
	_, _ = h.Write([]byte(word))
	freq := 150 + float64(h.Sum32()%200)
	voiced := n
	if strings.HasSuffix(word, " ") {
		voiced = max(0, n-gap)
	}
	fade := SpeechSampleRate / 200 // 5 ms
	for i := range n {
		var v float64
		if i < voiced {
			env := math.Min(1, math.Min(float64(i), float64(voiced-i))/float64(fade))
			v = 8000 * env * math.Sin(2*math.Pi*freq*float64(i)/SpeechSampleRate)
		}
		pcm = binary.LittleEndian.AppendUint16(pcm, uint16(int16(v)))
	}
	return pcm
}

// wavFile wraps 16-bit mono PCM at SpeechSampleRate in a WAV header.
func wavFile(pcm []byte) []byte {
	le := binary.LittleEndian
	var b bytes.Buffer
	b.WriteString("RIFF")
	b.Write(le.AppendUint32(nil, uint32(36+len(pcm))))
	b.WriteString("WAVEfmt ")
	b.Write(le.AppendUint32(nil, 16))
	b.Write(le.AppendUint16(nil, 1)) // PCM
	b.Write(le.AppendUint16(nil, 1)) // mono
	b.Write(le.AppendUint32(nil, SpeechSampleRate))
	b.Write(le.AppendUint32(nil, SpeechSampleRate*2))
	b.Write(le.AppendUint16(nil, 2))
	b.Write(le.AppendUint16(nil, 16))
	b.WriteString("data")
	b.Write(le.AppendUint32(nil, uint32(len(pcm))))
	b.Write(pcm)
	return b.Bytes()
}

// MP3 frame layout: MPEG-1 Layer III, 64 kbit/s, 48 kHz, mono, no CRC.
const (
	mp3FrameBytes   = 144 * 64000 / MP3SampleRate // 192, exact: no padding needed
	mp3FrameSamples = 1152
	mp3SideInfo     = 17 // mono
)

// silentMP3 returns MP3 frames of silence lasting about d. Each frame is a
// header, side information of zeros (no Huffman data, so every
// coefficient is zero) and zero main data: a valid stream any decoder
// plays as silence.
func silentMP3(d time.Duration) []byte {
	frames := max(1, int(math.Ceil(d.Seconds()*MP3SampleRate/mp3FrameSamples)))
	frame := make([]byte, mp3FrameBytes)
	// sync 0xFFF, MPEG-1, Layer III, no CRC | bitrate 64 (0101), 48 kHz (01),
	// no padding | mono (11), original.
	copy(frame, []byte{0xFF, 0xFB, 0x54, 0xC4})
	return bytes.Repeat(frame, frames)
}
