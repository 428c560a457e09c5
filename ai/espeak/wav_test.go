package espeak

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// pcmWAV builds a PCM WAV by hand with data of n bytes (value fill); when
// piped is true the sizes are espeak-ng's --stdout placeholders.
func pcmWAV(rate, channels, bits, n int, fill byte, piped bool) []byte {
	le := binary.LittleEndian
	block := channels * bits / 8
	riff, dataSize := uint32(36+n), uint32(n)
	if piped {
		riff, dataSize = 0x7ffff024, 0x7ffff000
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	b.Write(le.AppendUint32(nil, riff))
	b.WriteString("WAVEfmt ")
	b.Write(le.AppendUint32(nil, 16))
	b.Write(le.AppendUint16(nil, 1))
	b.Write(le.AppendUint16(nil, uint16(channels)))
	b.Write(le.AppendUint32(nil, uint32(rate)))
	b.Write(le.AppendUint32(nil, uint32(rate*block)))
	b.Write(le.AppendUint16(nil, uint16(block)))
	b.Write(le.AppendUint16(nil, uint16(bits)))
	b.WriteString("data")
	b.Write(le.AppendUint32(nil, dataSize))
	b.Write(bytes.Repeat([]byte{fill}, n))
	return b.Bytes()
}

func TestParseWAV(t *testing.T) {
	withList := pcmWAV(8000, 1, 16, 16000, 1, false)
	// Put a LIST chunk (odd size, padded) before fmt to check chunk walking.
	list := append([]byte("LIST\x03\x00\x00\x00abc\x00"), withList[12:]...)
	withList = append(append([]byte{}, withList[:12]...), list...)
	tests := []struct {
		name string
		in   []byte
		want Info
	}{
		{"mono 16-bit", pcmWAV(22050, 1, 16, 44100, 1, false),
			Info{Format: 1, SampleRate: 22050, Channels: 1, BitsPerSample: 16, DataSize: 44100, Duration: time.Second}},
		{"stereo 8-bit", pcmWAV(8000, 2, 8, 4000, 1, false),
			Info{Format: 1, SampleRate: 8000, Channels: 2, BitsPerSample: 8, DataSize: 4000, Duration: 250 * time.Millisecond}},
		{"piped placeholder sizes", pcmWAV(22050, 1, 16, 22050, 1, true),
			Info{Format: 1, SampleRate: 22050, Channels: 1, BitsPerSample: 16, DataSize: 22050, Duration: 500 * time.Millisecond}},
		{"odd cut-off pipe", pcmWAV(22050, 1, 16, 22051, 1, true),
			Info{Format: 1, SampleRate: 22050, Channels: 1, BitsPerSample: 16, DataSize: 22050, Duration: 500 * time.Millisecond}},
		{"chunk before fmt", withList,
			Info{Format: 1, SampleRate: 8000, Channels: 1, BitsPerSample: 16, DataSize: 16000, Duration: time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseWAV(tc.in)
			if err != nil {
				t.Fatalf("ParseWAV: %v", err)
			}
			if got != tc.want {
				t.Errorf("ParseWAV = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseWAVRejects(t *testing.T) {
	good := pcmWAV(8000, 1, 16, 100, 1, false)
	zeroRate := bytes.Clone(good)
	binary.LittleEndian.PutUint32(zeroRate[24:28], 0)
	tests := []struct {
		name, want string
		in         []byte
	}{
		{"empty", "not a RIFF/WAVE", nil},
		{"mp3", "not a RIFF/WAVE", []byte("ID3\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00")},
		{"no fmt", "no valid fmt", append([]byte("RIFF\x0c\x00\x00\x00WAVEdata\x00\x00\x00\x00"), 0)},
		{"no data", "no data chunk", good[:36]},
		{"zero rate", "unusable format", zeroRate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseWAV(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseWAV error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestJoinWAV(t *testing.T) {
	a := pcmWAV(22050, 1, 16, 22050, 1, true) // 0.5 s, piped header
	b := pcmWAV(22050, 1, 16, 44100, 2, false)
	joined, err := JoinWAV(a, b)
	if err != nil {
		t.Fatalf("JoinWAV: %v", err)
	}
	info, err := ParseWAV(joined)
	if err != nil {
		t.Fatalf("ParseWAV(joined): %v", err)
	}
	if info.Duration != 1500*time.Millisecond || info.DataSize != 66150 {
		t.Errorf("joined = %+v, want 1.5 s and 66150 bytes", info)
	}
	checkSizes(t, joined)
	data := joined[44:]
	if data[0] != 1 || data[22049] != 1 || data[22050] != 2 || data[len(data)-1] != 2 {
		t.Errorf("joined data is not part a then part b")
	}
}

func TestJoinWAVOddData(t *testing.T) {
	joined, err := JoinWAV(pcmWAV(8000, 1, 8, 3, 1, false))
	if err != nil {
		t.Fatalf("JoinWAV: %v", err)
	}
	if len(joined) != 44+3+1 {
		t.Fatalf("len = %d, want 48 (odd data padded)", len(joined))
	}
	checkSizes(t, joined)
}

func TestJoinWAVRejects(t *testing.T) {
	tests := []struct {
		name  string
		parts [][]byte
		want  string
	}{
		{"no parts", nil, "no parts"},
		{"rate differs", [][]byte{pcmWAV(22050, 1, 16, 10, 1, false), pcmWAV(16000, 1, 16, 10, 1, false)}, "part 1: format"},
		{"bits differ", [][]byte{pcmWAV(8000, 1, 16, 10, 1, false), pcmWAV(8000, 1, 8, 10, 1, false)}, "part 1: format"},
		{"not wav", [][]byte{pcmWAV(8000, 1, 16, 10, 1, false), []byte("nope")}, "part 1: espeak: parsing WAV"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := JoinWAV(tc.parts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("JoinWAV error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// checkSizes asserts the RIFF size and the data size of a canonical
// 44-byte-header WAV match its length.
func checkSizes(t *testing.T, wav []byte) {
	t.Helper()
	le := binary.LittleEndian
	if got := int(le.Uint32(wav[4:8])); got != len(wav)-8 {
		t.Errorf("RIFF size = %d, want %d", got, len(wav)-8)
	}
	if string(wav[36:40]) != "data" {
		t.Fatalf("no data chunk at offset 36")
	}
	data := int(le.Uint32(wav[40:44]))
	if data != len(wav)-44 && data != len(wav)-45 {
		t.Errorf("data size = %d, want %d (or one less with a pad byte)", data, len(wav)-44)
	}
}
