package pdftext

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/ledongthuc/pdf"
)

// glyphTexts turns glyph names ("fi", "gamma", "uni2208") into text, by
// character code. Names of the uniXXXX and uXXXX[XX] forms are read
// directly; other names go through the parser's glyph name table (the
// Adobe Glyph List and more), which it exposes only through font
// encodings, so the names are written as the /Differences of small fonts in
// a PDF made in memory and decoded from there. A suffix after a dot
// ("a.sc") is dropped and ligature names ("f_f_i") are split on "_", as the
// Adobe Glyph List specification says. Names that map to nothing are left
// out.
func glyphTexts(names map[int]string) map[int]string {
	parts := map[string]bool{}
	for _, n := range names {
		for _, p := range nameParts(n) {
			parts[p] = true
		}
	}
	table := lookupNames(parts)
	out := make(map[int]string, len(names))
	for code, n := range names {
		var b strings.Builder
		for _, p := range nameParts(n) {
			if t, ok := table[p]; ok {
				b.WriteString(t)
			} else {
				b.Reset()
				break
			}
		}
		if b.Len() > 0 {
			out[code] = b.String()
		}
	}
	return out
}

// nameParts splits a glyph name into the names of its components.
func nameParts(n string) []string {
	if i := strings.IndexByte(n, '.'); i > 0 {
		n = n[:i]
	}
	if n == "" || n == ".notdef" {
		return nil
	}
	return strings.Split(n, "_")
}

// lookupNames maps each name to its text, leaving out unknown names.
func lookupNames(names map[string]bool) map[string]string {
	out := map[string]string{}
	var rest []string
	for n := range names {
		if t, ok := uniName(n); ok {
			out[n] = t
		} else if plainName(n) {
			rest = append(rest, n)
		}
	}
	for n, t := range parserNames(rest) {
		out[n] = t
	}
	return out
}

// uniName reads the names uniXXXX (one or more code units) and uXXXX to
// uXXXXXX.
func uniName(n string) (string, bool) {
	hex := ""
	switch {
	case strings.HasPrefix(n, "uni") && len(n) >= 7 && (len(n)-3)%4 == 0:
		var b strings.Builder
		for i := 3; i < len(n); i += 4 {
			v, err := strconv.ParseUint(n[i:i+4], 16, 32)
			if err != nil {
				return "", false
			}
			b.WriteRune(rune(v))
		}
		return b.String(), true
	case strings.HasPrefix(n, "u") && len(n) >= 5 && len(n) <= 7:
		hex = n[1:]
	default:
		return "", false
	}
	v, err := strconv.ParseUint(hex, 16, 32)
	if err != nil || v > 0x10ffff {
		return "", false
	}
	return string(rune(v)), true
}

// plainName reports whether n can be written as a PDF name without
// escapes.
func plainName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return n != ""
}

// namesPerFont is how many names one in-memory font encodes: codes 0 to 31,
// where an unknown name decodes to a control character and so shows.
const namesPerFont = 32

// parserNames looks names up in the parser's glyph name table.
func parserNames(names []string) (out map[string]string) {
	out = map[string]string{}
	if len(names) == 0 {
		return out
	}
	defer func() {
		if recover() != nil {
			out = map[string]string{}
		}
	}()
	data := namesPDF(names)
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return out
	}
	for i := 0; i*namesPerFont < len(names); i++ {
		chunk := names[i*namesPerFont : min((i+1)*namesPerFont, len(names))]
		pf := pdf.Font{V: r.Trailer().Key(fmt.Sprintf("F%d", i))}
		enc := pf.Encoder()
		for code, n := range chunk {
			t := enc.Decode(string([]byte{byte(code)}))
			if t != "" && t[0] >= ' ' {
				out[n] = t
			}
		}
	}
	return out
}

// namesPDF writes a minimal PDF whose trailer holds fonts F0, F1, ... with
// the names as /Differences from code 0, namesPerFont to a font.
func namesPDF(names []string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	obj := b.Len()
	b.WriteString("1 0 obj\n<< /Type /Catalog >>\nendobj\n")
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 2\n0000000000 65535 f \n%010d 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R\n", obj)
	for i := 0; i*namesPerFont < len(names); i++ {
		chunk := names[i*namesPerFont : min((i+1)*namesPerFont, len(names))]
		fmt.Fprintf(&b, "/F%d << /Type /Font /Subtype /Type1 /Encoding << /Differences [0 /%s] >> >>\n", i, strings.Join(chunk, " /"))
	}
	fmt.Fprintf(&b, ">>\nstartxref\n%d\n%%%%EOF\n", xref)
	return b.Bytes()
}
