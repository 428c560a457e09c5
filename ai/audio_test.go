package ai

import (
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitText(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		limit int
		want  []string
	}{
		{"fits", "One. Two.", 20, []string{"One. Two."}},
		{"at sentence ends", "One one. Two two! Three three? Four.", 19, []string{"One one. Two two!", "Three three? Four."}},
		{"long sentence at spaces", "alpha beta gamma delta", 11, []string{"alpha beta", "gamma delta"}},
		{"one long word", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"multibyte counted as characters", "ééé. ééé.", 5, []string{"ééé.", "ééé."}},
		{"line breaks end sentences", "Title\nBody text here.", 16, []string{"Title", "Body text here."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitText(tt.text, tt.limit)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("splitText = %q, want %q", got, tt.want)
			}
			for _, c := range got {
				if utf8.RuneCountInString(c) > tt.limit {
					t.Errorf("chunk %q is over %d characters", c, tt.limit)
				}
			}
		})
	}
}

// wavOf builds a WAV with an extra LIST chunk before data and the given
// data size field (0xFFFFFFFF for a streamed file).
func wavOf(pcm []byte, dataSize uint32) []byte {
	format := []byte{1, 0, 1, 0, 0xC0, 0x5D, 0, 0, 0x80, 0xBB, 0, 0, 2, 0, 16, 0} // PCM mono 24 kHz 16-bit
	le := binary.LittleEndian
	b := append([]byte("RIFF"), le.AppendUint32(nil, 0xFFFFFFFF)...)
	b = append(b, "WAVEfmt "...)
	b = le.AppendUint32(b, 16)
	b = append(b, format...)
	b = append(b, "LIST"...)
	b = le.AppendUint32(b, 3)
	b = append(b, 'a', 'b', 'c', 0) // odd size, padded
	b = append(b, "data"...)
	b = le.AppendUint32(b, dataSize)
	return append(b, pcm...)
}

func TestJoinWAV(t *testing.T) {
	a, b := []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8, 9, 10}
	out, err := joinAudio("wav", [][]byte{wavOf(a, 4), wavOf(b, 0xFFFFFFFF)})
	if err != nil {
		t.Fatal(err)
	}
	w, err := parseWAV(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(w.data) != string(append(a, b...)) || binary.LittleEndian.Uint32(out[4:8]) != uint32(len(out)-8) {
		t.Fatalf("joined data % x, RIFF size %d of %d bytes", w.data, binary.LittleEndian.Uint32(out[4:8]), len(out))
	}
	if got := audioSeconds("wav", out); got != 10.0/48000 {
		t.Errorf("duration %v, want %v", got, 10.0/48000)
	}
	if _, err := joinAudio("wav", [][]byte{wavOf(a, 4), []byte("not a wav")}); err == nil {
		t.Error("joining a non-WAV part succeeded")
	}
}

func TestMP3Seconds(t *testing.T) {
	// MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: 417-byte frames
	// of 1152 samples; behind an ID3v2 tag of 20 bytes.
	frame := make([]byte, 417)
	copy(frame, []byte{0xFF, 0xFB, 0x90, 0x64})
	tag := append([]byte{'I', 'D', '3', 4, 0, 0, 0, 0, 0, 10}, make([]byte, 10)...)
	stream := append(tag, strings.Repeat(string(frame), 100)...)
	want := 100 * 1152 / 44100.0
	if got := mp3Seconds(stream); got < want-1e-9 || got > want+1e-9 {
		t.Fatalf("mp3Seconds = %v, want %v", got, want)
	}
	joined, _ := joinAudio("mp3", [][]byte{stream, stream})
	if len(joined) != len(stream)*2-len(tag) {
		t.Errorf("joined %d bytes, want the second tag dropped (%d)", len(joined), len(stream)*2-len(tag))
	}
	if got := mp3Seconds(joined); got < 2*want-1e-9 || got > 2*want+1e-9 {
		t.Errorf("joined mp3 lasts %v, want %v", got, 2*want)
	}
}
