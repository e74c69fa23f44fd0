package debversion

import (
	"os/exec"
	"testing"
)

func TestCompare(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.0", "1.1", -1},
		{"1.10", "1.9", 1},
		{"1.0~rc1", "1.0", -1},
		{"1.0", "1.0+1", -1},
		{"1.0+b", "1.0+a", 1},
		{"0~15a63eb", "1.0", -1},
		{"0~15a63eb", "0~15a63eb.b", -1},
		{"1:0.1", "9.9", 1},
		{"1.0-1", "1.0-2", -1},
		{"1.0-1", "1.0", 1},
		{"1.0a", "1.0+", -1},
		{"1.0~~", "1.0~", -1},
		{"1.001", "1.1", 0},
		{"2.0", "10.0", -1},
		{"1.4.0+3+gabc1234", "1.4.0", 1},
		{"1.4.0+3+gabc1234", "1.4.1", -1},
	} {
		if got := Compare(c.a, c.b); got != c.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := Compare(c.b, c.a); got != -c.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", c.b, c.a, got, -c.want)
		}
		// dpkg agrees, where it is installed.
		if dpkg, err := exec.LookPath("dpkg"); err == nil {
			op := map[int]string{-1: "lt", 0: "eq", 1: "gt"}[c.want]
			if err := exec.Command(dpkg, "--compare-versions", c.a, op, c.b).Run(); err != nil {
				t.Errorf("dpkg --compare-versions %s %s %s: false", c.a, op, c.b)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	for _, v := range []string{"1.0", "0~dev", "1:2.3-4", "1.4.0+3+gabc1234", "2.0~rc1"} {
		if err := Check(v); err != nil {
			t.Errorf("Check(%q): %v", v, err)
		}
	}
	for _, v := range []string{"", "dev", "1.0 beta", "1.0/x", "x:1.0", "1.0-", "1.0_1", string(make([]byte, 200))} {
		if err := Check(v); err == nil {
			t.Errorf("Check(%q) accepted it", v)
		}
	}
}
