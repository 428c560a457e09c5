package pdftext

// This file reads the built-in encoding of a CFF font program (Adobe
// Technical Note 5176): the charset gives each glyph's name as a string ID,
// the encoding gives each code's glyph. Every read is bounds-checked, and
// builtinNames recovers from anything missed.

// cffEncoding returns the glyph names of a CFF font's built-in encoding by
// code, or nil for a CID-keyed font, the standard or expert encoding, or
// data that cannot be read.
func cffEncoding(b []byte) map[int]string {
	if len(b) < 4 {
		return nil
	}
	_, pos, ok := cffIndex(b, int(b[2])) // Name INDEX
	top, pos, ok2 := cffIndex(b, pos)    // Top DICT INDEX
	strs, _, ok3 := cffIndex(b, pos)     // String INDEX
	if !ok || !ok2 || !ok3 || len(top) == 0 {
		return nil
	}
	d := cffDict(top[0])
	if _, cid := d[12<<8|30]; cid {
		return nil
	}
	charset, enc, glyphs := d[15], d[16], d[17]
	if enc <= 1 || glyphs <= 0 {
		return nil
	}
	sids := cffCharset(b, charset, int(u16(b, glyphs)))
	out := map[int]string{}
	for code, sid := range cffCodes(b, enc, sids) {
		if n := cffString(sid, strs); n != "" {
			out[code] = n
		}
	}
	return out
}

// u16 reads a big-endian 16-bit number at p, or 0 out of bounds.
func u16(b []byte, p int) int {
	if p < 0 || p+1 >= len(b) {
		return 0
	}
	return int(b[p])<<8 | int(b[p+1])
}

// cffIndex reads the INDEX at pos: its items and the position after it.
func cffIndex(b []byte, pos int) (items [][]byte, end int, ok bool) {
	count := u16(b, pos)
	if pos+2 > len(b) {
		return nil, pos, false
	}
	if count == 0 {
		return nil, pos + 2, true
	}
	if pos+2 >= len(b) {
		return nil, pos, false
	}
	offSize := int(b[pos+2])
	if offSize < 1 || offSize > 4 {
		return nil, pos, false
	}
	offs := make([]int, count+1)
	for i := range offs {
		p := pos + 3 + i*offSize
		if p+offSize > len(b) {
			return nil, pos, false
		}
		for k := 0; k < offSize; k++ {
			offs[i] = offs[i]<<8 | int(b[p+k])
		}
	}
	base := pos + 3 + (count+1)*offSize - 1
	for i := 0; i < count; i++ {
		s, e := base+offs[i], base+offs[i+1]
		if s < 0 || e > len(b) || s > e {
			return nil, pos, false
		}
		items = append(items, b[s:e])
	}
	return items, base + offs[count], true
}

// cffDict reads the integer operands of a DICT's operators: the last
// operand of each operator (all this package needs), by operator; escaped
// operators are 12<<8 | second byte.
func cffDict(d []byte) map[int]int {
	out := map[int]int{}
	last := 0
	for i := 0; i < len(d); {
		b0 := int(d[i])
		switch {
		case b0 <= 21:
			op := b0
			if b0 == 12 && i+1 < len(d) {
				op = 12<<8 | int(d[i+1])
				i++
			}
			out[op] = last
			last = 0
			i++
		case b0 == 28:
			last = int(int16(u16(d, i+1)))
			i += 3
		case b0 == 29:
			last = int(int32(u16(d, i+1)<<16 | u16(d, i+3)))
			i += 5
		case b0 == 30:
			i = skipReal(d, i+1)
			last = 0
		case b0 >= 32 && b0 <= 246:
			last = b0 - 139
			i++
		case b0 >= 247 && b0 <= 250 && i+1 < len(d):
			last = (b0-247)*256 + int(d[i+1]) + 108
			i += 2
		case b0 >= 251 && b0 <= 254 && i+1 < len(d):
			last = -(b0-251)*256 - int(d[i+1]) - 108
			i += 2
		default:
			i++
		}
	}
	return out
}

// skipReal returns the position after a real number's nibbles.
func skipReal(d []byte, i int) int {
	for ; i < len(d); i++ {
		if d[i]&0x0f == 0x0f || d[i]>>4 == 0x0f {
			return i + 1
		}
	}
	return i
}

// cffCharset returns the string ID of each glyph.
func cffCharset(b []byte, off, n int) []int {
	n = min(n, 1<<16)
	sids := make([]int, n)
	switch off {
	case 0: // ISOAdobe: glyph i is string i
		for i := range sids {
			sids[i] = i
		}
		return sids
	case 1, 2: // expert charsets: names this package does not hold
		return sids
	}
	if off >= len(b) {
		return sids
	}
	format, p := int(b[off]), off+1
	if format == 0 {
		for gid := 1; gid < n && p+1 < len(b); gid, p = gid+1, p+2 {
			sids[gid] = u16(b, p)
		}
		return sids
	}
	for gid := 1; gid < n && p+2 < len(b); {
		first, left := u16(b, p), int(b[p+2])
		p += 3
		if format == 2 {
			left = u16(b, p-1)
			p++
		}
		for k := 0; k <= left && gid < n; k++ {
			sids[gid] = first + k
			gid++
		}
	}
	return sids
}

// cffCodes returns the string ID of each code of a custom encoding.
func cffCodes(b []byte, off int, sids []int) map[int]int {
	codes := map[int]int{}
	if off >= len(b) {
		return codes
	}
	format, p := b[off], off+1
	sid := func(gid int) int {
		if gid < len(sids) {
			return sids[gid]
		}
		return 0
	}
	if p >= len(b) {
		return codes
	}
	switch format & 0x7f {
	case 0:
		n := int(b[p])
		for i := 0; i < n && p+1+i < len(b); i++ {
			codes[int(b[p+1+i])] = sid(i + 1)
		}
		p += 1 + n
	case 1:
		n, gid := int(b[p]), 1
		p++
		for r := 0; r < n && p+1 < len(b); r, p = r+1, p+2 {
			for k := 0; k <= int(b[p+1]); k++ {
				codes[int(b[p])+k] = sid(gid)
				gid++
			}
		}
	}
	if format&0x80 != 0 && p < len(b) {
		n := int(b[p])
		for i, q := 0, p+1; i < n && q+2 < len(b); i, q = i+1, q+3 {
			codes[int(b[q])] = u16(b, q+1)
		}
	}
	return codes
}

// cffString returns the name with a string ID: a standard string, or one
// of the font's own strings from ID 391 on.
func cffString(sid int, strs [][]byte) string {
	const firstCustom = 391
	switch {
	case sid > 0 && sid < len(cffStandardStrings):
		return cffStandardStrings[sid]
	case sid >= firstCustom && sid-firstCustom < len(strs):
		return string(strs[sid-firstCustom])
	}
	return ""
}

// cffStandardStrings are the first 229 standard strings of CFF (IDs 0 to
// 228, the ISOAdobe character set); IDs 229 to 390 name expert glyphs
// (small capitals, old-style figures) and are not needed for text.
var cffStandardStrings = [...]string{
	".notdef", "space", "exclam", "quotedbl", "numbersign", "dollar", "percent", "ampersand",
	"quoteright", "parenleft", "parenright", "asterisk", "plus", "comma", "hyphen", "period",
	"slash", "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
	"colon", "semicolon", "less", "equal", "greater", "question", "at",
	"A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R",
	"S", "T", "U", "V", "W", "X", "Y", "Z",
	"bracketleft", "backslash", "bracketright", "asciicircum", "underscore", "quoteleft",
	"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r",
	"s", "t", "u", "v", "w", "x", "y", "z",
	"braceleft", "bar", "braceright", "asciitilde", "exclamdown", "cent", "sterling",
	"fraction", "yen", "florin", "section", "currency", "quotesingle", "quotedblleft",
	"guillemotleft", "guilsinglleft", "guilsinglright", "fi", "fl", "endash", "dagger",
	"daggerdbl", "periodcentered", "paragraph", "bullet", "quotesinglbase", "quotedblbase",
	"quotedblright", "guillemotright", "ellipsis", "perthousand", "questiondown", "grave",
	"acute", "circumflex", "tilde", "macron", "breve", "dotaccent", "dieresis", "ring",
	"cedilla", "hungarumlaut", "ogonek", "caron", "emdash", "AE", "ordfeminine", "Lslash",
	"Oslash", "OE", "ordmasculine", "ae", "dotlessi", "lslash", "oslash", "oe", "germandbls",
	"onesuperior", "logicalnot", "mu", "trademark", "Eth", "onehalf", "plusminus", "Thorn",
	"onequarter", "divide", "brokenbar", "degree", "thorn", "threequarters", "twosuperior",
	"registered", "minus", "eth", "multiply", "threesuperior", "copyright",
	"Aacute", "Acircumflex", "Adieresis", "Agrave", "Aring", "Atilde", "Ccedilla", "Eacute",
	"Ecircumflex", "Edieresis", "Egrave", "Iacute", "Icircumflex", "Idieresis", "Igrave",
	"Ntilde", "Oacute", "Ocircumflex", "Odieresis", "Ograve", "Otilde", "Scaron", "Uacute",
	"Ucircumflex", "Udieresis", "Ugrave", "Yacute", "Ydieresis", "Zcaron",
	"aacute", "acircumflex", "adieresis", "agrave", "aring", "atilde", "ccedilla", "eacute",
	"ecircumflex", "edieresis", "egrave", "iacute", "icircumflex", "idieresis", "igrave",
	"ntilde", "oacute", "ocircumflex", "odieresis", "ograve", "otilde", "scaron", "uacute",
	"ucircumflex", "udieresis", "ugrave", "yacute", "ydieresis", "zcaron",
}
