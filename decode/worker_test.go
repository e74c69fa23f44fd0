package decode

import "testing"

// TestCodeLike: three hits shaped like one code's finder patterns count,
// unless all three lie in a skip rectangle, whose coordinates are frame
// pixels while the hits' are those of the plane scaled down by k.
func TestCodeLike(t *testing.T) {
	// A code seen straight on: finder patterns 7×4 px wide, 100 px apart.
	l := []hit{
		{x: 100, y: 100, size: 28, y0: 90, y1: 110},
		{x: 200, y: 100, size: 28, y0: 90, y1: 110},
		{x: 100, y: 200, size: 28, y0: 190, y1: 210},
	}
	tests := []struct {
		name string
		l    []hit
		skip []rect
		k    int
		want bool
	}{
		{"a code", l, nil, 1, true},
		{"two hits", l[:2], nil, 1, false},
		{"skipped, full size", l, []rect{{50, 50, 250, 250}}, 1, false},
		{"skip rectangle elsewhere", l, []rect{{300, 300, 500, 500}}, 1, true},
		// In a half-size plane the hits are at twice their coordinates.
		{"skipped, half size", l, []rect{{150, 150, 450, 450}}, 2, false},
		{"not skipped, half size", l, []rect{{50, 50, 250, 250}}, 2, true},
		// Hits at indices 2 to 4: an inner loop index of 4 must not scale them.
		{"skipped, later hits", append([]hit{{x: 900, y: 900, size: 200}, {x: 950, y: 400, size: 300}}, l...), []rect{{50, 50, 250, 250}}, 1, false},
	}
	for _, tc := range tests {
		var scratch []int32
		got, _, _ := codeLike(tc.l, tc.skip, tc.k, sizeClass{}, &scratch)
		if got != tc.want {
			t.Errorf("%s: codeLike = %v, want %v", tc.name, got, tc.want)
		}
	}
}
