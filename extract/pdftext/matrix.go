package pdftext

import "math"

// matrix is a PDF transformation matrix [a b c d e f], which maps a point
// (x, y) to (a*x + c*y + e, b*x + d*y + f).
type matrix [6]float64

// identity is the matrix that leaves points where they are.
var identity = matrix{1, 0, 0, 1, 0, 0}

// mul returns m × n: the transformation that applies m, then n.
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2],
		m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2],
		m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4],
		m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

// apply maps the point (x, y) through m.
func (m matrix) apply(x, y float64) (float64, float64) {
	return m[0]*x + m[2]*y + m[4], m[1]*x + m[3]*y + m[5]
}

// translate returns the matrix that moves points by (tx, ty).
func translate(tx, ty float64) matrix {
	return matrix{1, 0, 0, 1, tx, ty}
}

// verticalScale is the length of the image of the unit vertical vector:
// the font size a matrix that includes the font size gives text.
func (m matrix) verticalScale() float64 {
	return math.Hypot(m[2], m[3])
}

// finite reports whether every entry of m is a finite number.
func (m matrix) finite() bool {
	for _, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}
