package camera

import "checkpoint"

// Measure returns a frame's mean brightness (0 to 255) and a sharpness
// figure, the variance of its Laplacian (4-neighbour, over the inner
// pixels): a technician turns the focus ring until it peaks. Both ignore the
// row padding past Width.
func Measure(f *checkpoint.Frame) (mean, sharpness float64) {
	if f == nil || f.Width <= 0 || f.Height <= 0 || f.Stride < f.Width || len(f.Y) < f.Stride*(f.Height-1)+f.Width {
		return 0, 0
	}
	var sum int64
	for y := 0; y < f.Height; y++ {
		for _, v := range f.Y[y*f.Stride : y*f.Stride+f.Width] {
			sum += int64(v)
		}
	}
	mean = float64(sum) / float64(f.Width*f.Height)
	if f.Width < 3 || f.Height < 3 {
		return mean, 0
	}
	var s, s2 int64
	s0 := f.Stride
	for y := 1; y < f.Height-1; y++ {
		row := f.Y[y*s0:]
		up := f.Y[(y-1)*s0:]
		down := f.Y[(y+1)*s0:]
		for x := 1; x < f.Width-1; x++ {
			l := 4*int64(row[x]) - int64(row[x-1]) - int64(row[x+1]) - int64(up[x]) - int64(down[x])
			s += l
			s2 += l * l
		}
	}
	n := float64((f.Width - 2) * (f.Height - 2))
	m := float64(s) / n
	return mean, float64(s2)/n - m*m
}
