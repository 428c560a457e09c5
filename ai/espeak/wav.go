package espeak

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Info describes the audio of a WAV file.
type Info struct {
	// Format is the WAVE format tag: 1 for integer PCM, 3 for IEEE float,
	// 0xFFFE for WAVE_FORMAT_EXTENSIBLE.
	Format int
	// SampleRate is in frames per second.
	SampleRate int
	// Channels is the number of interleaved channels.
	Channels int
	// BitsPerSample is the size of one sample of one channel.
	BitsPerSample int
	// DataSize is the number of audio bytes in the data chunk.
	DataSize int
	// Duration is the playing time of the data chunk.
	Duration time.Duration
}

// wavFile is a parsed WAV: its format chunk as found and its audio bytes.
type wavFile struct {
	info Info
	fmt  []byte
	data []byte
}

// minFmtSize is the size of the PCM fields of a fmt chunk.
const minFmtSize = 16

// ParseWAV reads the header of a RIFF/WAVE file and reports its format and
// duration. Headers written to a pipe, whose RIFF and data sizes are
// placeholders (espeak-ng --stdout writes 0x7ffff000), are accepted: the
// data then runs to the end of b.
func ParseWAV(b []byte) (Info, error) {
	w, err := parseWAV(b)
	if err != nil {
		return Info{}, err
	}
	return w.info, nil
}

func parseWAV(b []byte) (wavFile, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return wavFile{}, errors.New("espeak: parsing WAV: not a RIFF/WAVE file")
	}
	var w wavFile
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:off+8]))
		body := b[off+8:]
		if size > len(body) || size < 0 {
			size = len(body)
		}
		switch id {
		case "fmt ":
			w.fmt = body[:size]
		case "data":
			w.data = body[:size]
		}
		if w.fmt != nil && w.data != nil {
			break
		}
		off += 8 + size + size%2
	}
	return w, w.describe()
}

// describe fills w.info from the format chunk and the data.
func (w *wavFile) describe() error {
	if len(w.fmt) < minFmtSize {
		return errors.New("espeak: parsing WAV: no valid fmt chunk")
	}
	if w.data == nil {
		return errors.New("espeak: parsing WAV: no data chunk")
	}
	le := binary.LittleEndian
	w.info = Info{
		Format:        int(le.Uint16(w.fmt[0:2])),
		Channels:      int(le.Uint16(w.fmt[2:4])),
		SampleRate:    int(le.Uint32(w.fmt[4:8])),
		BitsPerSample: int(le.Uint16(w.fmt[14:16])),
	}
	in := &w.info
	if in.Channels == 0 || in.SampleRate == 0 || in.BitsPerSample == 0 || in.BitsPerSample%8 != 0 {
		return fmt.Errorf("espeak: parsing WAV: unusable format (%d channels, %d Hz, %d bits)",
			in.Channels, in.SampleRate, in.BitsPerSample)
	}
	frame := in.Channels * in.BitsPerSample / 8
	w.data = w.data[:len(w.data)-len(w.data)%frame] // a cut-off pipe may end mid-frame
	in.DataSize = len(w.data)
	in.Duration = time.Duration(int64(len(w.data)/frame) * int64(time.Second) / int64(in.SampleRate))
	return nil
}

// JoinWAV concatenates the audio of WAV files of one format into a single
// WAV with correct RIFF and data sizes. The parts must agree in format tag,
// sample rate, channels and bits per sample. One part is rewritten with
// correct sizes, which fixes the placeholder sizes of a piped header.
func JoinWAV(parts ...[]byte) ([]byte, error) {
	if len(parts) == 0 {
		return nil, errors.New("espeak: joining WAV: no parts")
	}
	files := make([]wavFile, len(parts))
	size := 0
	for i, p := range parts {
		w, err := parseWAV(p)
		if err != nil {
			return nil, fmt.Errorf("espeak: joining WAV part %d: %w", i, err)
		}
		if i > 0 && !sameFormat(files[0].info, w.info) {
			return nil, fmt.Errorf("espeak: joining WAV part %d: format %+v differs from part 0 %+v",
				i, w.info, files[0].info)
		}
		files[i] = w
		size += len(w.data)
	}
	return writeWAV(files[0].fmt, size, files), nil
}

func sameFormat(a, b Info) bool {
	return a.Format == b.Format && a.SampleRate == b.SampleRate &&
		a.Channels == b.Channels && a.BitsPerSample == b.BitsPerSample
}

// writeWAV writes a RIFF header with the given format chunk, then one data
// chunk holding the data of files in order.
func writeWAV(fmtChunk []byte, dataSize int, files []wavFile) []byte {
	pad := dataSize % 2
	riffSize := 4 + 8 + len(fmtChunk) + len(fmtChunk)%2 + 8 + dataSize + pad
	var buf bytes.Buffer
	buf.Grow(8 + riffSize)
	le := binary.LittleEndian
	buf.WriteString("RIFF")
	buf.Write(le.AppendUint32(nil, uint32(riffSize)))
	buf.WriteString("WAVEfmt ")
	buf.Write(le.AppendUint32(nil, uint32(len(fmtChunk))))
	buf.Write(fmtChunk)
	if len(fmtChunk)%2 == 1 {
		buf.WriteByte(0)
	}
	buf.WriteString("data")
	buf.Write(le.AppendUint32(nil, uint32(dataSize)))
	for _, f := range files {
		buf.Write(f.data)
	}
	if pad == 1 {
		buf.WriteByte(0)
	}
	return buf.Bytes()
}
