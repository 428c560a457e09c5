package ai

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// pcmBytesPerSecond is the rate of OpenAI's raw pcm speech: 24 kHz,
// 16-bit, mono.
const pcmBytesPerSecond = 24000 * 2

// joinAudio joins the audio of consecutive speech requests into one file.
func joinAudio(format string, parts [][]byte) ([]byte, error) {
	if len(parts) == 1 {
		return parts[0], nil
	}
	switch format {
	case "wav":
		return joinWAV(parts)
	case "mp3":
		var out []byte
		for i, p := range parts {
			if i > 0 {
				p = p[id3Size(p):] // one tag, at the start
			}
			out = append(out, p...)
		}
		return out, nil
	}
	return bytes.Join(parts, nil), nil // pcm; chained Ogg opus; ADTS aac
}

// audioSeconds is the duration of audio, when its format tells it.
func audioSeconds(format string, audio []byte) float64 {
	switch format {
	case "wav":
		w, err := parseWAV(audio)
		if err != nil || w.byteRate() == 0 {
			return 0
		}
		return float64(len(w.data)) / float64(w.byteRate())
	case "pcm":
		return float64(len(audio)) / pcmBytesPerSecond
	case "mp3":
		return mp3Seconds(audio)
	}
	return 0
}

// wavFile is a parsed WAV: its fmt chunk and its PCM data.
type wavFile struct {
	format []byte
	data   []byte
}

func (w wavFile) byteRate() uint32 { return binary.LittleEndian.Uint32(w.format[8:12]) }

// parseWAV reads the fmt and data chunks of a RIFF WAVE file. A data size
// that is zero or runs past the end (streamed WAV, as OpenAI's) means "to
// the end of the file".
func parseWAV(b []byte) (wavFile, error) {
	var w wavFile
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return w, errors.New("not a RIFF WAVE file")
	}
	for pos := 12; pos+8 <= len(b); {
		id, size := string(b[pos:pos+4]), int(binary.LittleEndian.Uint32(b[pos+4:pos+8]))
		body := b[pos+8:]
		if id == "data" {
			if size == 0 || size > len(body) {
				size = len(body)
			}
			w.data = body[:size]
			break
		}
		if size > len(body) {
			return w, fmt.Errorf("WAV chunk %q runs past the end", id)
		}
		if id == "fmt " {
			w.format = body[:size]
		}
		pos += 8 + size + size&1
	}
	if len(w.format) < 16 || w.data == nil {
		return w, errors.New("WAV file without fmt or data chunk")
	}
	return w, nil
}

// joinWAV concatenates the PCM of WAV files of the same format under one
// header with the right sizes.
func joinWAV(parts [][]byte) ([]byte, error) {
	var format, data []byte
	for i, p := range parts {
		w, err := parseWAV(p)
		if err != nil {
			return nil, fmt.Errorf("part %d: %w", i, err)
		}
		if i > 0 && !bytes.Equal(w.format, format) {
			return nil, fmt.Errorf("part %d has another sample format than part 0", i)
		}
		format, data = w.format, append(data, w.data...)
	}
	return buildWAV(format, data), nil
}

// buildWAV writes a RIFF WAVE file of one fmt and one data chunk.
func buildWAV(format, data []byte) []byte {
	le := binary.LittleEndian
	out := make([]byte, 0, 12+8+len(format)+len(format)&1+8+len(data))
	out = append(out, "RIFF"...)
	out = le.AppendUint32(out, uint32(4+8+len(format)+len(format)&1+8+len(data)))
	out = append(out, "WAVEfmt "...)
	out = le.AppendUint32(out, uint32(len(format)))
	out = append(out, format...)
	if len(format)&1 == 1 {
		out = append(out, 0)
	}
	out = append(out, "data"...)
	out = le.AppendUint32(out, uint32(len(data)))
	return append(out, data...)
}

// id3Size is the length of a leading ID3v2 tag, zero without one.
func id3Size(b []byte) int {
	if len(b) < 10 || string(b[:3]) != "ID3" {
		return 0
	}
	n := 10 + (int(b[6])<<21 | int(b[7])<<14 | int(b[8])<<7 | int(b[9]))
	if b[5]&0x10 != 0 {
		n += 10 // footer
	}
	return min(n, len(b))
}

// MPEG audio Layer III tables: bitrates in kbit/s by index, sample rates
// by index, for MPEG-1 and for MPEG-2/2.5.
var (
	mp3Bitrates = [2][15]int{
		{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
	}
	mp3Rates = map[byte][3]int{3: {44100, 48000, 32000}, 2: {22050, 24000, 16000}, 0: {11025, 12000, 8000}}
)

// mp3Seconds walks the Layer III frames of an MP3 stream and sums their
// durations; it stops at the first byte that is not a frame.
func mp3Seconds(b []byte) float64 {
	secs := 0.0
	for pos := id3Size(b); pos+4 <= len(b); {
		size, dur := mp3Frame(b[pos : pos+4])
		if size == 0 {
			break
		}
		secs += dur
		pos += size
	}
	return secs
}

// mp3Frame reads a frame header: the frame's length in bytes and its
// duration, or zero for something else.
func mp3Frame(h []byte) (int, float64) {
	version, layer := (h[1]>>3)&3, (h[1]>>1)&3
	brIdx, srIdx, pad := int(h[2]>>4), int((h[2]>>2)&3), int((h[2]>>1)&1)
	if h[0] != 0xFF || h[1]&0xE0 != 0xE0 || version == 1 || layer != 1 || brIdx == 0 || brIdx == 15 || srIdx == 3 {
		return 0, 0
	}
	rate := mp3Rates[version][srIdx]
	table, coef, samples := 0, 144, 1152
	if version != 3 {
		table, coef, samples = 1, 72, 576
	}
	size := coef*mp3Bitrates[table][brIdx]*1000/rate + pad
	return size, float64(samples) / float64(rate)
}
