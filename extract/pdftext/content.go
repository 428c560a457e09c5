package pdftext

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/ledongthuc/pdf"
)

// glyph is one character drawn on a page, in page space (points, y up).
type glyph struct {
	s      string
	x, y   float64 // origin, on the baseline
	ex, ey float64 // where the glyph's advance ends
	size   float64 // font size on the page
	dir    int     // writing direction in quarter turns: 0 is left to right
	bold   bool
}

// Limits on what one page may make the interpreter do, so that a hostile
// page cannot exhaust memory through them.
const (
	maxFormDepth     = 8       // nesting of form XObjects
	maxPageGlyphs    = 500_000 // glyphs kept from one page
	checkEveryNthOp  = 256     // operators between checks of the context
	maxGstateDepth   = 1024    // nesting of q operators
	maxTextArrayElem = 1 << 16 // elements of one TJ array
)

// state is the part of the PDF graphics state that text placement needs.
type state struct {
	ctm       matrix
	font      *font
	fontSize  float64
	charSpace float64
	wordSpace float64
	hscale    float64
	leading   float64
	rise      float64
}

// interpreter runs content streams with the parser's tokenizer
// (pdf.Interpret) and places each shown glyph on the page. It follows the
// PDF text operators itself because the parser's Page.Content reports no
// widths for composite fonts, ignores word spacing and form XObjects, and
// re-reads font widths from the file for every glyph.
type interpreter struct {
	ctx     context.Context
	res     pdf.Value        // resources of the stream being run
	fonts   map[string]*font // fonts of res, by resource name
	shared  fontCache        // fonts of the whole document
	g       state
	saved   []state
	tm, tlm matrix
	glyphs  []glyph
	ops     int
	depth   int
}

// abort carries a context error out of pdf.Interpret as a panic.
type abort struct{ err error }

// pageGlyphs interprets the content of one page and returns its glyphs. A
// panic in the parser stops the page: the glyphs placed before it are kept
// and err says what failed. A done context gives its error and no glyphs.
func pageGlyphs(ctx context.Context, page pdf.Page, fonts fontCache) (glyphs []glyph, err error) {
	in := &interpreter{ctx: ctx, shared: fonts}
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if a, ok := r.(abort); ok {
			glyphs, err = nil, a.err
			return
		}
		glyphs, err = visible(in.glyphs, page.V), fmt.Errorf("reading the page content: %v", r)
	}()
	in.reset(page.Resources())
	if contents := page.V.Key("Contents"); contents.Kind() == pdf.Stream || contents.Kind() == pdf.Array {
		pdf.Interpret(contents, in.op)
	}
	in.annotations(page.V)
	return visible(in.glyphs, page.V), nil
}

// pageBox returns the visible area of a page, its crop box (or media box),
// as [x0 y0 x1 y1]; ok is false when the page has neither.
func pageBox(page pdf.Value) (box [4]float64, ok bool) {
	for _, key := range []string{"CropBox", "MediaBox"} {
		v := inherited(page, key)
		if v.Len() != 4 {
			continue
		}
		for i := range box {
			box[i] = v.Index(i).Float64()
		}
		box[0], box[2] = math.Min(box[0], box[2]), math.Max(box[0], box[2])
		box[1], box[3] = math.Min(box[1], box[3]), math.Max(box[1], box[3])
		if box[2] > box[0] && box[3] > box[1] {
			return box, true
		}
	}
	return box, false
}

// inherited returns a page attribute, looking up the page tree.
func inherited(page pdf.Value, key string) pdf.Value {
	for v, depth := page, 0; v.Kind() == pdf.Dict && depth < maxTreeDepth; v, depth = v.Key("Parent"), depth+1 {
		if r := v.Key(key); r.Kind() != pdf.Null {
			return r
		}
	}
	return pdf.Value{}
}

// boxSlack is how far (points) a glyph may start outside the page box and
// still count as visible.
const boxSlack = 2

// visible keeps the glyphs that start inside the page box: viewers and
// printers show nothing outside it.
func visible(gs []glyph, page pdf.Value) []glyph {
	box, ok := pageBox(page)
	if !ok {
		return gs
	}
	out := gs[:0]
	for _, g := range gs {
		if g.x >= box[0]-boxSlack && g.x <= box[2]+boxSlack && g.y >= box[1]-boxSlack && g.y <= box[3]+boxSlack {
			out = append(out, g)
		}
	}
	return out
}

// reset starts a fresh graphics state with the given resources.
func (in *interpreter) reset(res pdf.Value) {
	in.res = res
	in.fonts = map[string]*font{}
	in.g = state{ctm: identity, hscale: 1}
	in.tm, in.tlm = identity, identity
}

// op handles one content stream operator with its operands on stk.
func (in *interpreter) op(stk *pdf.Stack, op string) {
	in.ops++
	if in.ops%checkEveryNthOp == 0 {
		if err := in.ctx.Err(); err != nil {
			panic(abort{err})
		}
	}
	args := popArgs(stk)
	if !in.textOp(op, args) {
		in.graphicsOp(op, args)
	}
}

// popArgs empties the operand stack, bottom operand first.
func popArgs(stk *pdf.Stack) []pdf.Value {
	args := make([]pdf.Value, stk.Len())
	for i := len(args) - 1; i >= 0; i-- {
		args[i] = stk.Pop()
	}
	return args
}

// nums returns the operands as numbers, or nil unless there are exactly n.
func nums(args []pdf.Value, n int) []float64 {
	if len(args) != n {
		return nil
	}
	out := make([]float64, n)
	for i, a := range args {
		out[i] = a.Float64()
	}
	return out
}

// graphicsOp handles the operators outside text objects that move text:
// q, Q, cm and Do. Malformed operators are skipped.
func (in *interpreter) graphicsOp(op string, args []pdf.Value) {
	switch op {
	case "q":
		if len(in.saved) < maxGstateDepth {
			in.saved = append(in.saved, in.g)
		}
	case "Q":
		if n := len(in.saved); n > 0 {
			in.g, in.saved = in.saved[n-1], in.saved[:n-1]
		}
	case "cm":
		if v := nums(args, 6); v != nil {
			if m := (matrix{v[0], v[1], v[2], v[3], v[4], v[5]}); m.finite() {
				in.g.ctm = m.mul(in.g.ctm)
			}
		}
	case "Do":
		if len(args) == 1 {
			in.form(args[0].Name())
		}
	}
}

// textOp handles the text state, positioning and showing operators and
// reports whether op was one of them.
func (in *interpreter) textOp(op string, args []pdf.Value) bool {
	switch op {
	case "BT":
		in.tm, in.tlm = identity, identity
	case "Tf":
		if len(args) == 2 {
			in.g.font = in.font(args[0].Name())
			in.g.fontSize = args[1].Float64()
		}
	case "Tj", "'", "\"", "TJ":
		in.showOp(op, args)
	default:
		return in.textStateOp(op, args) || in.moveOp(op, args)
	}
	return true
}

// textStateOp handles Tc, Tw, Tz, TL and Ts.
func (in *interpreter) textStateOp(op string, args []pdf.Value) bool {
	v := nums(args, 1)
	var p *float64
	switch op {
	case "Tc":
		p = &in.g.charSpace
	case "Tw":
		p = &in.g.wordSpace
	case "TL":
		p = &in.g.leading
	case "Ts":
		p = &in.g.rise
	case "Tz":
		if v != nil {
			in.g.hscale = v[0] / 100
		}
		return true
	default:
		return false
	}
	if v != nil && !math.IsNaN(v[0]) && !math.IsInf(v[0], 0) {
		*p = v[0]
	}
	return true
}

// moveOp handles Td, TD, Tm and T*.
func (in *interpreter) moveOp(op string, args []pdf.Value) bool {
	switch op {
	case "Td", "TD":
		if v := nums(args, 2); v != nil {
			if op == "TD" {
				in.g.leading = -v[1]
			}
			in.newLine(v[0], v[1])
		}
	case "Tm":
		if v := nums(args, 6); v != nil {
			if m := (matrix{v[0], v[1], v[2], v[3], v[4], v[5]}); m.finite() {
				in.tm, in.tlm = m, m
			}
		}
	case "T*":
		in.newLine(0, -in.g.leading)
	default:
		return false
	}
	return true
}

// newLine moves to the start of the next line, offset by (tx, ty).
func (in *interpreter) newLine(tx, ty float64) {
	in.tlm = translate(tx, ty).mul(in.tlm)
	in.tm = in.tlm
}

// showOp handles the text showing operators.
func (in *interpreter) showOp(op string, args []pdf.Value) {
	switch {
	case op == "Tj" && len(args) == 1:
		in.show(args[0].RawString())
	case op == "'" && len(args) == 1:
		in.newLine(0, -in.g.leading)
		in.show(args[0].RawString())
	case op == "\"" && len(args) == 3:
		in.g.wordSpace, in.g.charSpace = args[0].Float64(), args[1].Float64()
		in.newLine(0, -in.g.leading)
		in.show(args[2].RawString())
	case op == "TJ" && len(args) == 1:
		in.showArray(args[0])
	}
}

// showArray shows the strings of a TJ array, moving by its numbers.
func (in *interpreter) showArray(a pdf.Value) {
	for i := 0; i < a.Len() && i < maxTextArrayElem; i++ {
		e := a.Index(i)
		if e.Kind() == pdf.String {
			in.show(e.RawString())
			continue
		}
		tx := -e.Float64() / 1000 * in.g.fontSize * in.g.hscale
		in.tm = translate(tx, 0).mul(in.tm)
	}
}

// show places the glyphs of one shown string and advances the text matrix.
func (in *interpreter) show(raw string) {
	f := in.g.font
	if f == nil {
		f = in.font("")
	}
	for _, code := range f.codes(raw) {
		m := in.tm.mul(in.g.ctm)
		tx := f.width(code)/1000*in.g.fontSize + in.g.charSpace
		if code == ' ' && !f.twoByte {
			tx += in.g.wordSpace
		}
		tx *= in.g.hscale
		in.place(f, code, m, tx)
		in.tm = translate(tx, 0).mul(in.tm)
	}
}

// place records the glyph of code drawn with text-to-page matrix m and
// advance tx (in text space).
func (in *interpreter) place(f *font, code int, m matrix, tx float64) {
	if len(in.glyphs) >= maxPageGlyphs {
		return
	}
	trm := matrix{in.g.fontSize * in.g.hscale, 0, 0, in.g.fontSize, 0, in.g.rise}.mul(m)
	size := trm.verticalScale() * f.sizeScale
	if size <= 0 || !trm.finite() {
		return
	}
	ex, ey := m.apply(tx, in.g.rise)
	in.glyphs = append(in.glyphs, glyph{
		s: f.text(code), x: trm[4], y: trm[5], ex: ex, ey: ey,
		size: size, dir: quarterTurns(trm[0], trm[1]), bold: f.bold,
	})
}

// quarterTurns rounds the direction of the vector (dx, dy) to a multiple of
// 90 degrees: 0 for rightwards, 1 upwards, 2 leftwards, 3 downwards.
func quarterTurns(dx, dy float64) int {
	a := math.Atan2(dy, dx)
	q := int(math.Round(a/(math.Pi/2))) % 4
	if q < 0 {
		q += 4
	}
	return q
}

// font returns the font of the current resources with the given name.
func (in *interpreter) font(name string) *font {
	if f, ok := in.fonts[name]; ok {
		return f
	}
	f := in.shared.get(in.res.Key("Font").Key(name))
	in.fonts[name] = f
	return f
}

// fontCache holds the fonts of a document, so that pages sharing a font
// read it once. The key is the font dictionary as text, in which the
// objects it refers to (widths, encoding, font program) appear by number.
type fontCache map[string]*font

// get returns the font of a font dictionary, loading it on first use.
func (c fontCache) get(v pdf.Value) *font {
	key := v.String()
	if f, ok := c[key]; ok {
		return f
	}
	f := loadFont(v)
	c[key] = f
	return f
}

// form runs the form XObject with the given name, if it is one.
func (in *interpreter) form(name string) {
	if xo := in.res.Key("XObject").Key(name); xo.Key("Subtype").Name() == "Form" {
		in.runForm(xo, identity)
	}
}

// runForm runs the content of a form XObject in a graphics state of its
// own, with the form's Matrix and then place applied before the current
// transformation.
func (in *interpreter) runForm(xo pdf.Value, place matrix) {
	if xo.Kind() != pdf.Stream || in.depth >= maxFormDepth {
		return
	}
	outer := *in
	defer func() {
		in.res, in.fonts, in.g, in.saved, in.tm, in.tlm, in.depth =
			outer.res, outer.fonts, outer.g, outer.saved, outer.tm, outer.tlm, outer.depth
	}()
	in.g.ctm = formMatrix(xo).mul(place).mul(in.g.ctm)
	if res := xo.Key("Resources"); res.Kind() == pdf.Dict {
		in.res, in.fonts = res, map[string]*font{}
	}
	in.saved = nil
	in.depth++
	pdf.Interpret(xo, in.op)
}

// formMatrix returns a form XObject's Matrix, or the identity.
func formMatrix(xo pdf.Value) matrix {
	if v := nums(arrayValues(xo.Key("Matrix")), 6); v != nil {
		if m := (matrix{v[0], v[1], v[2], v[3], v[4], v[5]}); m.finite() {
			return m
		}
	}
	return identity
}

// maxAnnotations bounds the annotations read on one page.
const maxAnnotations = 1000

// annotations adds the text a user typed into the page's annotations:
// the values of filled-in text and choice fields (whose appearance streams
// are often empty, leaving viewers to draw /V) and the appearance of free
// text annotations. Buttons are left out: their captions are usually page
// content too.
func (in *interpreter) annotations(page pdf.Value) {
	annots := page.Key("Annots")
	for i := 0; i < annots.Len() && i < maxAnnotations; i++ {
		a := annots.Index(i)
		if a.Key("F").Int64()&2 != 0 { // hidden
			continue
		}
		switch a.Key("Subtype").Name() {
		case "Widget":
			in.fieldValue(a)
		case "FreeText":
			ap := a.Key("AP").Key("N")
			if place, ok := annotationPlace(ap, a.Key("Rect")); ok {
				in.g = state{ctm: identity, hscale: 1}
				in.runForm(ap, place)
			}
		}
	}
}

// fieldType returns a form field's type, which a widget may inherit from
// its parent field.
func fieldType(a pdf.Value) string {
	for v, depth := a, 0; v.Kind() == pdf.Dict && depth < maxTreeDepth; v, depth = v.Key("Parent"), depth+1 {
		if ft := v.Key("FT").Name(); ft != "" {
			return ft
		}
	}
	return ""
}

// fieldValue places the value of a text or choice field inside its
// rectangle, one line per line of the value, in Helvetica metrics at the
// size its default appearance (/DA) asks for.
func (in *interpreter) fieldValue(a pdf.Value) {
	ft := fieldType(a)
	r := nums(arrayValues(a.Key("Rect")), 4)
	value := strings.TrimSpace(a.Key("V").Text())
	if ft != "Tx" && ft != "Ch" || r == nil || value == "" {
		return
	}
	x0, y1 := math.Min(r[0], r[2]), math.Max(r[1], r[3])
	size := daFontSize(a.Key("DA").RawString())
	if size <= 0 {
		size = math.Min(12, math.Max(math.Abs(r[3]-r[1])*0.7, 4))
	}
	f := &font{name: "Helvetica", sizeScale: 1, widths: standardWidths("Helvetica"), missing: defaultWidth}
	in.g = state{ctm: identity, hscale: 1, font: f, fontSize: size}
	for i, text := range strings.FieldsFunc(value, func(r rune) bool { return r == '\r' || r == '\n' }) {
		in.tm = matrix{1, 0, 0, 1, x0 + 2, y1 - size - float64(i)*1.2*size}
		for _, ch := range text {
			in.placeText(f, string(ch))
		}
	}
}

// placeText places one character of already decoded text with the current
// font and advances.
func (in *interpreter) placeText(f *font, s string) {
	w := defaultWidth
	if r := []rune(s); len(r) == 1 && r[0] < 256 {
		w = int(f.width(int(r[0])))
	}
	tx := float64(w) / 1000 * in.g.fontSize
	m := in.tm.mul(in.g.ctm)
	trm := matrix{in.g.fontSize, 0, 0, in.g.fontSize, 0, 0}.mul(m)
	ex, ey := m.apply(tx, 0)
	if len(in.glyphs) < maxPageGlyphs {
		in.glyphs = append(in.glyphs, glyph{s: s, x: trm[4], y: trm[5], ex: ex, ey: ey, size: in.g.fontSize})
	}
	in.tm = translate(tx, 0).mul(in.tm)
}

// daFont matches the font operator of a default appearance string.
var daFont = regexp.MustCompile(`/\S+\s+([\d.]+)\s+Tf`)

// daFontSize returns the font size of a default appearance string, or 0
// when it sets none (0 Tf means "fit the box").
func daFontSize(da string) float64 {
	m := daFont.FindStringSubmatch(da)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0
	}
	return v
}

// annotationPlace returns the matrix that maps an appearance stream's
// bounding box, after its Matrix, onto the annotation's rectangle.
func annotationPlace(ap, rect pdf.Value) (matrix, bool) {
	r, b := nums(arrayValues(rect), 4), nums(arrayValues(ap.Key("BBox")), 4)
	if ap.Kind() != pdf.Stream || r == nil || b == nil {
		return identity, false
	}
	m := formMatrix(ap)
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, c := range [][2]float64{{b[0], b[1]}, {b[0], b[3]}, {b[2], b[1]}, {b[2], b[3]}} {
		x, y := m.apply(c[0], c[1])
		x0, y0, x1, y1 = math.Min(x0, x), math.Min(y0, y), math.Max(x1, x), math.Max(y1, y)
	}
	if x1-x0 <= 0 || y1-y0 <= 0 {
		return identity, false
	}
	sx := (math.Max(r[0], r[2]) - math.Min(r[0], r[2])) / (x1 - x0)
	sy := (math.Max(r[1], r[3]) - math.Min(r[1], r[3])) / (y1 - y0)
	place := matrix{sx, 0, 0, sy, math.Min(r[0], r[2]) - x0*sx, math.Min(r[1], r[3]) - y0*sy}
	return place, place.finite()
}

// arrayValues returns the elements of an array value.
func arrayValues(a pdf.Value) []pdf.Value {
	out := make([]pdf.Value, a.Len())
	for i := range out {
		out[i] = a.Index(i)
	}
	return out
}
