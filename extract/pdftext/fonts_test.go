package pdftext

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGlyphTexts(t *testing.T) {
	names := map[int]string{
		1: "fi", 2: "gamma", 3: "uni2208", 4: "u1F600", 5: "f_f_i", 6: "a.sc",
		7: "nonsense-name", 8: ".notdef", 9: "germandbls", 10: "uni00410042", 11: "A",
	}
	want := map[int]string{
		1: "\ufb01", 2: "γ", 3: "∈", 4: "😀", 5: "ffi", 6: "a", 9: "ß", 10: "AB", 11: "A",
	}
	if d := cmp.Diff(want, glyphTexts(names)); d != "" {
		t.Errorf("glyphTexts (-want +got):\n%s", d)
	}
}

func TestGlyphTextsManyNames(t *testing.T) {
	names := map[int]string{}
	for c := 0; c < 200; c++ {
		names[c] = "A"
	}
	names[150] = "gamma"
	got := glyphTexts(names)
	if len(got) != 200 || got[150] != "γ" || got[199] != "A" {
		t.Errorf("glyphTexts over several in-memory fonts: %d names, [150]=%q [199]=%q", len(got), got[150], got[199])
	}
}

func TestType1Encoding(t *testing.T) {
	cases := []struct {
		name  string
		clear string
		want  map[int]string
	}{
		{"custom", "/Encoding 256 array\n0 1 255 {1 index exch /.notdef put} for\ndup 12 /fi put\ndup 65 /A put\nreadonly def",
			map[int]string{12: "fi", 65: "A"}},
		{"standard", "/Encoding StandardEncoding def", nil},
		{"code out of range", "dup 300 /A put", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if d := cmp.Diff(c.want, type1Encoding([]byte(c.clear))); d != "" {
				t.Errorf("type1Encoding (-want +got):\n%s", d)
			}
		})
	}
}

func TestCFFStandardStrings(t *testing.T) {
	if len(cffStandardStrings) != 229 {
		t.Fatalf("%d standard strings, want 229 (IDs 0 to 228)", len(cffStandardStrings))
	}
	for sid, want := range map[int]string{1: "space", 34: "A", 66: "a", 109: "fi", 149: "germandbls", 228: "zcaron"} {
		if cffStandardStrings[sid] != want {
			t.Errorf("standard string %d = %q, want %q", sid, cffStandardStrings[sid], want)
		}
	}
}

// cffIndexBytes writes a CFF INDEX with 1-byte offsets.
func cffIndexBytes(items ...[]byte) []byte {
	if len(items) == 0 {
		return []byte{0, 0}
	}
	b := []byte{0, byte(len(items)), 1, 1}
	off := 1
	for _, it := range items {
		off += len(it)
		b = append(b, byte(off))
	}
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

// cffInt encodes a DICT integer operand in the 3-byte form.
func cffInt(v int) []byte { return []byte{28, byte(v >> 8), byte(v)} }

// testCFF builds a CFF font with three glyphs (.notdef, "A" and a custom
// "gamma") encoded at codes 65 and 13, with the given encoding format.
func testCFF(format byte) []byte {
	strs := cffIndexBytes([]byte("gamma"))
	charset := []byte{0, 0, 34, 1, 135} // format 0: glyph 1 is SID 34 ("A"), glyph 2 is SID 391
	var enc []byte
	switch format {
	case 0:
		enc = []byte{0, 2, 65, 13}
	case 1:
		enc = []byte{1, 2, 65, 0, 13, 0}
	case 0x80:
		enc = []byte{0x80, 1, 65, 1, 13, 1, 135} // one code, plus a supplement
	}
	charStrings := cffIndexBytes([]byte{14}, []byte{14}, []byte{14})
	for dictLen := 0; ; {
		head := []byte{1, 0, 4, 1}
		name := cffIndexBytes([]byte("F"))
		base := len(head) + len(name) + 5 + dictLen + len(strs) + 2 // top INDEX of one item, empty global subrs
		charsetAt, encAt := base, base+len(charset)
		csAt := encAt + len(enc)
		dict := append(append(append(cffInt(charsetAt), 15), append(cffInt(encAt), 16)...), append(cffInt(csAt), 17)...)
		if len(dict) != dictLen {
			dictLen = len(dict)
			continue
		}
		var b bytes.Buffer
		for _, part := range [][]byte{head, name, cffIndexBytes(dict), strs, {0, 0}, charset, enc, charStrings} {
			b.Write(part)
		}
		return b.Bytes()
	}
}

func TestCFFEncoding(t *testing.T) {
	want := map[int]string{65: "A", 13: "gamma"}
	for _, format := range []byte{0, 1, 0x80} {
		if d := cmp.Diff(want, cffEncoding(testCFF(format))); d != "" {
			t.Errorf("format %#x: cffEncoding (-want +got):\n%s", format, d)
		}
	}
}

func TestCFFEncodingRejectsBadData(t *testing.T) {
	good := testCFF(0)
	for _, data := range [][]byte{nil, {1, 0}, good[:len(good)/2], bytes.Repeat([]byte{0xff}, 64)} {
		if got := cffEncoding(data); len(got) != 0 {
			t.Errorf("cffEncoding(%x) = %v, want nothing", data, got)
		}
	}
}

func TestStandardWidths(t *testing.T) {
	cases := []struct {
		font string
		code int
		want float64
	}{
		{"Helvetica", 'm', 833},
		{"Arial-BoldMT", ' ', 278},
		{"Times-Roman", 'm', 778},
		{"Courier", 'i', 600},
	}
	for _, c := range cases {
		if got := standardWidths(c.font)[c.code]; got != c.want {
			t.Errorf("width of %q in %s = %v, want %v", rune(c.code), c.font, got, c.want)
		}
	}
}

func TestIsBoldName(t *testing.T) {
	cases := map[string]bool{
		"Helvetica-Bold": true, "Arial-BoldMT": true, "CMBX12": true, "SFBX1095": true, "NimbusSanL-Bold": true,
		"Helvetica": false, "CMR10": false, "SFRM1095": false, "CMMI10": false, "TimesNewRoman": false,
	}
	for name, want := range cases {
		if got := isBoldName(name); got != want {
			t.Errorf("isBoldName(%q) = %v, want %v", name, got, want)
		}
	}
}
