package pdftext

import (
	"io"
	"regexp"
	"strconv"

	"github.com/ledongthuc/pdf"
)

// A simple font without /Encoding (TeX's fonts are the common case) uses
// the encoding built into its font program, which the parser does not read:
// it decodes the codes as PDFDocEncoding, turning TeX's ligatures, Greek
// letters and math symbols into control characters or wrong letters. The
// functions here read the built-in encoding of embedded Type 1 (FontFile)
// and CFF (FontFile3 /Type1C) programs as glyph names by code.

// maxFontProgram bounds how much of a font program is read.
const maxFontProgram = 4 << 20

// builtinNames returns the glyph names of the built-in encoding of a simple
// font's embedded program, by code, or nil when it has none that can be
// read or it is the standard encoding.
func builtinNames(fontDict pdf.Value) (names map[int]string) {
	defer func() {
		if recover() != nil {
			names = nil
		}
	}()
	fd := fontDict.Key("FontDescriptor")
	if ff := fd.Key("FontFile"); ff.Kind() == pdf.Stream {
		n := int(ff.Key("Length1").Int64())
		if n <= 0 || n > maxFontProgram {
			n = maxFontProgram
		}
		return type1Encoding(readStream(ff, n))
	}
	if ff := fd.Key("FontFile3"); ff.Kind() == pdf.Stream && ff.Key("Subtype").Name() == "Type1C" {
		return cffEncoding(readStream(ff, maxFontProgram))
	}
	return nil
}

// readStream returns up to n decoded bytes of a stream.
func readStream(v pdf.Value, n int) []byte {
	rc := v.Reader()
	defer rc.Close()
	data, _ := io.ReadAll(io.LimitReader(rc, int64(n)))
	return data
}

// type1Put matches an entry of a Type 1 font's encoding: "dup 12 /fi put".
var type1Put = regexp.MustCompile(`dup\s+(\d{1,3})\s*/([^\s/\[\]{}()<>%]+)\s+put`)

// type1Encoding reads the encoding from the clear-text part of a Type 1
// font program.
func type1Encoding(clear []byte) map[int]string {
	out := map[int]string{}
	for _, m := range type1Put.FindAllSubmatch(clear, 512) {
		code, err := strconv.Atoi(string(m[1]))
		if err == nil && code < 256 {
			out[code] = string(m[2])
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
