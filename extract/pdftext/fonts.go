package pdftext

import (
	"strings"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
)

// font is what the content interpreter needs of a PDF font: how to split a
// shown string into character codes, what text each code stands for and how
// far each code advances. Decoded codes are cached, since the parser's
// encoders scan their tables on every call.
type font struct {
	name      string  // BaseFont without the subset prefix
	bold      bool    // the name says bold, black or heavy
	twoByte   bool    // a composite (Type0) font: codes are two bytes
	sizeScale float64 // font size per unit of Tf size (not 1 for Type3 fonts)
	enc       pdf.TextEncoding
	builtin   map[int]string  // text of codes in the font program's own encoding
	widths    map[int]float64 // advance per code in 1/1000 text space units
	missing   float64         // advance for codes not in widths
	decoded   map[int]string
}

// loadFont reads the font dictionary v. A null v (an unknown font name)
// gives a font that decodes bytes as Latin-1 with average widths.
func loadFont(v pdf.Value) *font {
	f := &font{sizeScale: 1, missing: defaultWidth, decoded: map[int]string{}}
	if v.Kind() != pdf.Dict {
		return f
	}
	f.name = baseName(v.Key("BaseFont").Name())
	f.bold = isBoldName(f.name)
	f.enc = encoder(v)
	switch v.Key("Subtype").Name() {
	case "Type0":
		f.twoByte = true
		f.loadCIDWidths(v.Key("DescendantFonts").Index(0))
	case "Type3":
		f.loadSimpleWidths(v)
		f.scaleType3(v.Key("FontMatrix"))
	default:
		f.loadSimpleWidths(v)
		f.loadBuiltin(v)
	}
	return f
}

// loadBuiltin reads the built-in encoding of a simple font's program when
// the font relies on it: it has no ToUnicode map and no /Encoding, or
// /Differences without a base encoding (which then apply on top of it).
func (f *font) loadBuiltin(v pdf.Value) {
	enc := v.Key("Encoding")
	if v.Key("ToUnicode").Kind() == pdf.Stream ||
		enc.Kind() != pdf.Null && (enc.Kind() != pdf.Dict || enc.Key("BaseEncoding").Kind() != pdf.Null) {
		return
	}
	names := builtinNames(v)
	if len(names) == 0 {
		return
	}
	for code := range differenceCodes(enc.Key("Differences")) {
		delete(names, code)
	}
	f.builtin = glyphTexts(names)
}

// differenceCodes returns the codes a /Differences array names.
func differenceCodes(d pdf.Value) map[int]bool {
	out := map[int]bool{}
	code := 0
	for i := 0; i < d.Len() && i < 1024; i++ {
		switch e := d.Index(i); e.Kind() {
		case pdf.Integer:
			code = int(e.Int64())
		case pdf.Name:
			out[code] = true
			code++
		}
	}
	return out
}

// encoder returns the parser's text encoding for a font dictionary, or nil
// when reading it fails (a malformed ToUnicode map panics in the parser).
func encoder(v pdf.Value) (enc pdf.TextEncoding) {
	defer func() {
		if recover() != nil {
			enc = nil
		}
	}()
	pf := pdf.Font{V: v}
	return pf.Encoder()
}

// decode returns the text of raw under enc, or raw itself when there is no
// encoding or decoding panics.
func decode(enc pdf.TextEncoding, raw string) (s string) {
	if enc == nil {
		return raw
	}
	defer func() {
		if recover() != nil {
			s = raw
		}
	}()
	return enc.Decode(raw)
}

// defaultWidth is the advance assumed for a glyph whose width the PDF does
// not give: half an em, about the average of Latin text.
const defaultWidth = 500

// baseName strips a subset prefix ("ABCDEF+") from a font name.
func baseName(n string) string {
	if i := strings.IndexByte(n, '+'); i == 6 {
		return n[i+1:]
	}
	return n
}

// isBoldName reports whether a font name marks a bold face, including the
// TeX names (CMBX, SFBX, ECBX, SFSX) that do not spell it out.
func isBoldName(n string) bool {
	l := strings.ToLower(n)
	for _, s := range []string{"bold", "black", "heavy", "semibold", "demi"} {
		if strings.Contains(l, s) {
			return true
		}
	}
	for _, p := range []string{"cmbx", "cmb10", "cmssbx", "sfbx", "ecbx", "lmbx", "sfsx", "ecsx"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// loadSimpleWidths reads FirstChar and Widths of a simple font, falling
// back to the metrics of the standard 14 fonts, which need no Widths.
func (f *font) loadSimpleWidths(v pdf.Value) {
	ws := v.Key("Widths")
	first := int(v.Key("FirstChar").Int64())
	n := min(ws.Len(), 256)
	f.widths = make(map[int]float64, n)
	for i := 0; i < n; i++ {
		f.widths[first+i] = ws.Index(i).Float64()
	}
	if n > 0 {
		f.missing = v.Key("FontDescriptor").Key("MissingWidth").Float64()
		return
	}
	f.widths = standardWidths(f.name)
	if mono(f.name) {
		f.missing = 600
	}
}

// loadCIDWidths reads the W array and DW of a composite font's descendant:
// W holds entries "c [w1 w2 ...]" and "cfirst clast w".
func (f *font) loadCIDWidths(d pdf.Value) {
	f.missing = 1000
	if dw := d.Key("DW"); dw.Kind() == pdf.Integer || dw.Kind() == pdf.Real {
		f.missing = dw.Float64()
	}
	w := d.Key("W")
	f.widths = map[int]float64{}
	for i := 0; i+1 < w.Len() && len(f.widths) < 1<<16; {
		c := int(w.Index(i).Int64())
		if next := w.Index(i + 1); next.Kind() == pdf.Array {
			for j := 0; j < next.Len() && j < 1<<16; j++ {
				f.widths[c+j] = next.Index(j).Float64()
			}
			i += 2
			continue
		}
		if i+2 >= w.Len() {
			break
		}
		last, width := int(w.Index(i+1).Int64()), w.Index(i+2).Float64()
		for code := c; code <= last && code-c < 1<<16; code++ {
			f.widths[code] = width
		}
		i += 3
	}
}

// scaleType3 converts a Type3 font's glyph-space widths to the 1/1000 units
// of other fonts and records how its FontMatrix scales the font size.
func (f *font) scaleType3(fm pdf.Value) {
	if fm.Len() != 6 {
		return
	}
	sx, sy := fm.Index(0).Float64(), fm.Index(3).Float64()
	for c, w := range f.widths {
		f.widths[c] = w * sx * 1000
	}
	if sy < 0 {
		sy = -sy
	}
	if sy > 0 {
		f.sizeScale = sy * 1000
	}
}

// codes splits a shown string into character codes.
func (f *font) codes(raw string) []int {
	out := make([]int, 0, len(raw))
	if !f.twoByte {
		for i := 0; i < len(raw); i++ {
			out = append(out, int(raw[i]))
		}
		return out
	}
	for i := 0; i < len(raw); i += 2 {
		if i+1 == len(raw) {
			out = append(out, int(raw[i]))
			break
		}
		out = append(out, int(raw[i])<<8|int(raw[i+1]))
	}
	return out
}

// text returns the Unicode text of one character code.
func (f *font) text(code int) string {
	if s, ok := f.decoded[code]; ok {
		return s
	}
	if s, ok := f.builtin[code]; ok {
		f.decoded[code] = s
		return s
	}
	raw := string([]byte{byte(code)})
	if f.twoByte {
		raw = string([]byte{byte(code >> 8), byte(code)})
	}
	s := decode(f.enc, raw)
	if !utf8.ValidString(s) {
		s = latin1(raw)
	}
	f.decoded[code] = s
	return s
}

// width returns the advance of a code in 1/1000 text space units.
func (f *font) width(code int) float64 {
	if w, ok := f.widths[code]; ok && w > 0 {
		return w
	}
	return f.missing
}

// latin1 reads each byte of s as the code point of the same number.
func latin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

// mono reports whether a font name is a monospaced standard font.
func mono(name string) bool {
	return strings.Contains(strings.ToLower(name), "courier")
}

// standardWidths returns the widths of the printable ASCII codes in the
// standard font family a name belongs to (Helvetica for sans-serif and
// unknown names, Times for serif, Courier for monospaced); other codes use
// the font's missing width.
func standardWidths(name string) map[int]float64 {
	l := strings.ToLower(name)
	table := helveticaWidths[:]
	switch {
	case mono(name):
		w := make(map[int]float64, 95)
		for c := 32; c < 127; c++ {
			w[c] = 600
		}
		return w
	case strings.Contains(l, "times") || strings.Contains(l, "serif") && !strings.Contains(l, "sans"):
		table = timesWidths[:]
	}
	w := make(map[int]float64, len(table))
	for i, v := range table {
		w[32+i] = float64(v)
	}
	return w
}

// helveticaWidths are Helvetica's advances for codes 32 to 126, from the
// font's Adobe metrics (AFM).
var helveticaWidths = [95]int16{
	278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
	556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
	1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
	667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
	333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
	556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
}

// timesWidths are Times-Roman's advances for codes 32 to 126, from the
// font's Adobe metrics (AFM).
var timesWidths = [95]int16{
	250, 333, 408, 500, 500, 833, 778, 180, 333, 333, 500, 564, 250, 333, 250, 278,
	500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 278, 278, 564, 564, 564, 444,
	921, 722, 667, 667, 722, 611, 556, 722, 722, 333, 389, 722, 611, 889, 722, 722,
	556, 722, 667, 556, 611, 722, 722, 944, 722, 722, 611, 333, 278, 333, 469, 500,
	333, 444, 500, 444, 500, 444, 333, 500, 500, 278, 278, 500, 278, 778, 500, 500,
	500, 500, 333, 389, 278, 500, 500, 722, 500, 500, 444, 480, 200, 480, 541,
}
