package pdftext

import (
	"math"
	"sort"
	"strings"
)

// Layout thresholds, in ems (font sizes) of the text concerned.
const (
	sameLineTol    = 0.35 // baselines this close belong to one line
	chunkGap       = 1.5  // a wider jump forward in the content stream breaks a run
	joinGap        = 0.6  // runs on one baseline this close join into a segment
	wordGap        = 0.15 // a wider gap between two characters is a word space
	minGutter      = 0.8  // the narrowest gap taken for a gutter between columns
	minColumnWidth = 6.0  // the median line width a column of text has at least
	ascent         = 0.8  // how far text is taken to reach above its baseline
	descent        = 0.25 // how far text is taken to reach below its baseline
)

// seg is a segment of a text line: characters on one baseline with no gap
// wide enough to separate columns.
type seg struct {
	chars  []char // in x order
	x0, x1 float64
	y      float64 // baseline
	size   float64 // the size most of its characters have
	bold   bool    // most of its characters are bold
}

func (s *seg) top() float64    { return s.y + ascent*s.size }
func (s *seg) bottom() float64 { return s.y - descent*s.size }

// column is the region of a page that a run of lines flows in: the whole
// page, or one side of a gutter.
type column struct {
	x0, x1 float64
}

// line is one line of text in reading order.
type line struct {
	text   string
	x0, x1 float64
	y      float64
	size   float64
	bold   bool
	col    *column
	page   int
	chars  int // characters other than spaces, for weighting sizes
}

// pageLines lays out the characters of one page as lines in reading order.
func pageLines(cs []char, page int) []line {
	segs := segments(cs)
	if len(segs) == 0 {
		return nil
	}
	root := extent(segs)
	var bands []band
	xyCut(segs, root, &bands, 0)
	var out []line
	for _, b := range bands {
		out = append(out, bandLines(b, page)...)
	}
	return out
}

// segments groups characters into line segments. Runs of characters that
// follow each other in the content stream are joined first, then runs that
// share a baseline and nearly touch (superscripts, font changes).
func segments(cs []char) []*seg {
	var segs []*seg
	for _, run := range runs(cs) {
		if s := newSeg(run); s != nil {
			segs = append(segs, s)
		}
	}
	sort.SliceStable(segs, func(i, j int) bool {
		if segs[i].y != segs[j].y {
			return segs[i].y > segs[j].y
		}
		return segs[i].x0 < segs[j].x0
	})
	return mergeSegs(segs)
}

// runs splits characters, in content stream order, where the stream moves
// to another line or jumps along the line.
func runs(cs []char) [][]char {
	var out [][]char
	start := 0
	for i := 1; i <= len(cs); i++ {
		if i == len(cs) || breaksRun(cs[i-1], cs[i]) {
			out = append(out, cs[start:i])
			start = i
		}
	}
	return out
}

// breaksRun reports whether c, drawn right after p, starts a new run.
func breaksRun(p, c char) bool {
	em := math.Max(math.Min(p.size, c.size), 1)
	if math.Abs(c.y-p.y) > sameLineTol*em {
		return true
	}
	gap := c.x0 - p.x1
	return gap < -0.5*em || gap > chunkGap*em
}

// newSeg makes a segment of a run, or nil when the run is only spaces.
func newSeg(run []char) *seg {
	s := &seg{chars: append([]char(nil), run...)}
	s.finish()
	if s.size == 0 {
		return nil
	}
	return s
}

// finish sorts a segment's characters and sets its bounds, size and weight.
func (s *seg) finish() {
	sort.SliceStable(s.chars, func(i, j int) bool { return s.chars[i].x0 < s.chars[j].x0 })
	s.x0, s.x1 = math.Inf(1), math.Inf(-1)
	sizes := map[float64]int{}
	bold, n := 0, 0
	var ysum float64
	for _, c := range s.chars {
		if c.space {
			continue
		}
		s.x0, s.x1 = math.Min(s.x0, c.x0), math.Max(s.x1, c.x1)
		sizes[math.Round(c.size*10)/10]++
		ysum += c.y
		n++
		if c.bold {
			bold++
		}
	}
	if n == 0 {
		return
	}
	s.size = modeSize(sizes)
	s.bold = bold*2 > n
	s.y = baseline(s.chars, s.size, ysum/float64(n))
}

// baseline returns the baseline of the characters of the main size, so
// that superscripts and subscripts do not move it.
func baseline(cs []char, size, fallback float64) float64 {
	var sum float64
	n := 0
	for _, c := range cs {
		if !c.space && math.Abs(c.size-size) < 0.05*size {
			sum += c.y
			n++
		}
	}
	if n == 0 {
		return fallback
	}
	return sum / float64(n)
}

// modeSize returns the size with the most characters; ties go to the
// larger size.
func modeSize(sizes map[float64]int) float64 {
	best, bestN := 0.0, 0
	for s, n := range sizes {
		if n > bestN || n == bestN && s > best {
			best, bestN = s, n
		}
	}
	return best
}

// mergeSegs joins segments, sorted by baseline then x, that sit on one
// line and nearly touch, or that are a smaller script on another's line.
func mergeSegs(segs []*seg) []*seg {
	var out []*seg
	buckets := map[int][]*seg{}
	for _, s := range segs {
		if t := mergeTarget(buckets, s); t != nil {
			t.chars = append(t.chars, s.chars...)
			t.finish()
			continue
		}
		out = append(out, s)
		k := int(math.Floor(s.y))
		buckets[k] = append(buckets[k], s)
	}
	return out
}

// mergeTarget finds a segment in buckets that s belongs to.
func mergeTarget(buckets map[int][]*seg, s *seg) *seg {
	reach := int(math.Ceil(s.size*0.8)) + 1
	k := int(math.Floor(s.y))
	for d := -reach; d <= reach; d++ {
		for _, t := range buckets[k+d] {
			if belongsTo(s, t) {
				return t
			}
		}
	}
	return nil
}

// belongsTo reports whether segment s continues segment t on its line.
func belongsTo(s, t *seg) bool {
	em := math.Min(s.size, t.size)
	gap := math.Max(s.x0, t.x0) - math.Min(s.x1, t.x1)
	if gap > joinGap*em {
		return false
	}
	if math.Abs(s.y-t.y) <= sameLineTol*em {
		return true
	}
	// A smaller script (footnote mark, index) raised or lowered on t's line.
	small, big := s, t
	if small.size > big.size {
		small, big = big, small
	}
	return small.size < 0.85*big.size && small.y > big.bottom() && small.y < big.y+0.6*big.size
}

// extent returns the column spanning all of segs.
func extent(segs []*seg) *column {
	c := &column{x0: math.Inf(1), x1: math.Inf(-1)}
	for _, s := range segs {
		c.x0, c.x1 = math.Min(c.x0, s.x0), math.Max(c.x1, s.x1)
	}
	return c
}

// band is a group of segments that recursive cutting could not split,
// usually one line, with the column it belongs to.
type band struct {
	segs []*seg
	col  *column
}

// maxCutDepth bounds the recursion of xyCut on hostile pages.
const maxCutDepth = 2000

// xyCut orders segments for reading by recursive XY cutting: a block is
// split at a gutter between two columns when it has one, else at its
// widest horizontal gap, and the pieces are read top to bottom, left to
// right. Cutting at the widest gap first keeps a title above two columns
// from joining the columns' lines into rows.
func xyCut(segs []*seg, col *column, out *[]band, depth int) {
	if len(segs) == 0 {
		return
	}
	if depth < maxCutDepth && len(segs) > 1 {
		if left, right, ok := verticalCut(segs); ok {
			xyCut(left, extent(left), out, depth+1)
			xyCut(right, extent(right), out, depth+1)
			return
		}
		if above, below, ok := horizontalCut(segs); ok {
			xyCut(above, col, out, depth+1)
			xyCut(below, col, out, depth+1)
			return
		}
	}
	*out = append(*out, band{segs: segs, col: col})
}

// verticalCut splits segs at the widest gutter that has a column of text
// on both sides.
func verticalCut(segs []*seg) (left, right []*seg, ok bool) {
	sorted := append([]*seg(nil), segs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].x0 < sorted[j].x0 })
	em := medianSize(segs)
	best := 0.0
	reach := sorted[0].x1
	for i := 1; i < len(sorted); i++ {
		gap := sorted[i].x0 - reach
		if gap >= minGutter*em && gap > best && isColumn(sorted[:i], em) && isColumn(sorted[i:], em) {
			best, left, right = gap, sorted[:i], sorted[i:]
		}
		reach = math.Max(reach, sorted[i].x1)
	}
	return left, right, best > 0
}

// isColumn reports whether segs look like a column of text: several lines,
// most of them a few words wide at least, unlike the cells of a table, the
// entries of a table of contents or a lone page number.
func isColumn(segs []*seg, em float64) bool {
	widths := make([]float64, len(segs))
	lines := false
	for i, s := range segs {
		widths[i] = s.x1 - s.x0
		lines = lines || math.Abs(s.y-segs[0].y) > sameLineTol*em
	}
	sort.Float64s(widths)
	return lines && widths[len(widths)/2] >= minColumnWidth*em
}

// horizontalCut splits segs at their widest horizontal gap.
func horizontalCut(segs []*seg) (above, below []*seg, ok bool) {
	sorted := append([]*seg(nil), segs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].top() > sorted[j].top() })
	best, at := 0.0, 0
	floor := sorted[0].bottom()
	for i := 1; i < len(sorted); i++ {
		if gap := floor - sorted[i].top(); gap > best {
			best, at = gap, i
		}
		floor = math.Min(floor, sorted[i].bottom())
	}
	if at == 0 {
		return nil, nil, false
	}
	return sorted[:at], sorted[at:], true
}

// medianSize returns the median font size of segs.
func medianSize(segs []*seg) float64 {
	sizes := make([]float64, len(segs))
	for i, s := range segs {
		sizes[i] = s.size
	}
	sort.Float64s(sizes)
	return sizes[len(sizes)/2]
}

// bandLines joins the segments of a band that share a baseline into lines,
// top to bottom.
func bandLines(b band, page int) []line {
	segs := append([]*seg(nil), b.segs...)
	sort.SliceStable(segs, func(i, j int) bool { return segs[i].y > segs[j].y })
	var out []line
	for start := 0; start < len(segs); {
		end := start + 1
		for end < len(segs) && segs[start].y-segs[end].y <= sameLineTol*segs[start].size {
			end++
		}
		out = append(out, makeLine(segs[start:end], b.col, page))
		start = end
	}
	return out
}

// makeLine joins segments of one line, left to right.
func makeLine(segs []*seg, col *column, page int) line {
	var cs []char
	sizes := map[float64]int{}
	bold, n := 0, 0
	ln := line{x0: math.Inf(1), x1: math.Inf(-1), col: col, page: page}
	for _, s := range segs {
		cs = append(cs, s.chars...)
		ln.x0, ln.x1 = math.Min(ln.x0, s.x0), math.Max(ln.x1, s.x1)
		w := nonSpace(s.chars)
		sizes[s.size] += w
		n += w
		if s.bold {
			bold += w
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].x0 < cs[j].x0 })
	ln.text = spaceWords(cs)
	ln.size = modeSize(sizes)
	ln.bold = bold*2 > n
	ln.chars = n
	ln.y = segs[0].y
	for _, s := range segs {
		if s.size == ln.size {
			ln.y = s.y
			break
		}
	}
	return ln
}

// nonSpace counts the characters of cs that are not spaces.
func nonSpace(cs []char) int {
	n := 0
	for _, c := range cs {
		if !c.space {
			n++
		}
	}
	return n
}

// spaceWords joins characters sorted by x into text, putting one space
// where the PDF drew a space or where the gap between two characters is
// wider than wordGap of the font size. Characters placed one by one with
// no gap stay in one word.
func spaceWords(cs []char) string {
	var b strings.Builder
	var prev *char
	pending := false
	for i := range cs {
		c := &cs[i]
		if c.space {
			pending = prev != nil
			continue
		}
		if prev != nil && (pending || c.x0-prev.x1 > wordGap*math.Min(prev.size, c.size)) {
			b.WriteByte(' ')
		}
		b.WriteString(c.s)
		prev, pending = c, false
	}
	return b.String()
}
