package decode

import "math"

// homography maps module coordinates (u, v) of a code to plane pixels:
// x = (h0 u + h1 v + h2) / w, y = (h3 u + h4 v + h5) / w, w = h6 u + h7 v + h8.
type homography [9]float64

func (h *homography) apply(u, v float64) (float64, float64) {
	w := h[6]*u + h[7]*v + h[8]
	return (h[0]*u + h[1]*v + h[2]) / w, (h[3]*u + h[4]*v + h[5]) / w
}

// pair is one correspondence between module coordinates and pixels, with a
// weight in the fit.
type pair struct {
	u, v, x, y, wt float64
}

// fit computes the homography that best maps the pairs' (u, v) onto their
// (x, y) in the least-squares sense (direct linear transform with
// normalised coordinates), and the root-mean-square error in pixels. It
// needs four pairs in general position.
func fit(ps []pair) (homography, float64, bool) {
	var h homography
	if len(ps) < 4 {
		return h, 0, false
	}
	// Normalise both sides: centroid at 0, mean distance sqrt 2.
	var su, sv, sx, sy, sw float64
	for _, p := range ps {
		su += p.u * p.wt
		sv += p.v * p.wt
		sx += p.x * p.wt
		sy += p.y * p.wt
		sw += p.wt
	}
	cu, cv, cx, cy := su/sw, sv/sw, sx/sw, sy/sw
	var du, dx float64
	for _, p := range ps {
		du += math.Hypot(p.u-cu, p.v-cv) * p.wt
		dx += math.Hypot(p.x-cx, p.y-cy) * p.wt
	}
	if du == 0 || dx == 0 {
		return h, 0, false
	}
	ku, kx := math.Sqrt2*sw/du, math.Sqrt2*sw/dx
	// Normal equations A^T A h = A^T b for the 8 unknowns (h8 = 1).
	var ata [8][9]float64
	row := func(a *[8]float64, b, wt float64) {
		for i := 0; i < 8; i++ {
			if a[i] == 0 {
				continue
			}
			for j := 0; j < 8; j++ {
				ata[i][j] += wt * a[i] * a[j]
			}
			ata[i][8] += wt * a[i] * b
		}
	}
	for _, p := range ps {
		u, v := (p.u-cu)*ku, (p.v-cv)*ku
		x, y := (p.x-cx)*kx, (p.y-cy)*kx
		row(&[8]float64{u, v, 1, 0, 0, 0, -u * x, -v * x}, x, p.wt)
		row(&[8]float64{0, 0, 0, u, v, 1, -u * y, -v * y}, y, p.wt)
	}
	var n [8]float64
	if !solve8(&ata, &n) {
		return h, 0, false
	}
	// Undo the normalisation: H = Tx^-1 * Hn * Tu.
	hn := homography{n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], 1}
	tu := homography{ku, 0, -ku * cu, 0, ku, -ku * cv, 0, 0, 1}
	txi := homography{1 / kx, 0, cx, 0, 1 / kx, cy, 0, 0, 1}
	h = mul(mul(txi, hn), tu)
	var se float64
	for _, p := range ps {
		x, y := h.apply(p.u, p.v)
		se += ((x-p.x)*(x-p.x) + (y-p.y)*(y-p.y)) * p.wt
	}
	return h, math.Sqrt(se / sw), true
}

func mul(a, b homography) homography {
	var c homography
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			c[3*i+j] = a[3*i]*b[j] + a[3*i+1]*b[3+j] + a[3*i+2]*b[6+j]
		}
	}
	return c
}

// solve8 solves the augmented 8×8 system by Gaussian elimination with
// partial pivoting.
func solve8(m *[8][9]float64, x *[8]float64) bool {
	for c := 0; c < 8; c++ {
		p := c
		for r := c + 1; r < 8; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		if math.Abs(m[p][c]) < 1e-12 {
			return false
		}
		m[c], m[p] = m[p], m[c]
		for r := c + 1; r < 8; r++ {
			f := m[r][c] / m[c][c]
			if f == 0 {
				continue
			}
			for k := c; k < 9; k++ {
				m[r][k] -= f * m[c][k]
			}
		}
	}
	for r := 7; r >= 0; r-- {
		s := m[r][8]
		for k := r + 1; k < 8; k++ {
			s -= m[r][k] * x[k]
		}
		x[r] = s / m[r][r]
	}
	return true
}
