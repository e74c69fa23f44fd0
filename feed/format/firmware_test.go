package format

import (
	"fmt"
	"strings"
	"testing"
)

func TestFirmwareCustom(t *testing.T) {
	f := Firmware{Package: "checkpoint", Version: "1.4.0+3+gabc", Architecture: "arm64", Rollout: 10}
	custom, err := FirmwareCustom(f)
	if err != nil {
		t.Fatal(err)
	}
	if f.Target() != "firmware/checkpoint_1.4.0+3+gabc_arm64.deb" {
		t.Fatalf("target %s", f.Target())
	}
	got, err := ParseFirmware(f.Target(), custom)
	if err != nil || *got != f {
		t.Fatalf("ParseFirmware: %+v, %v", got, err)
	}
	for _, c := range []struct{ path, custom, want string }{
		{f.Target(), ``, "no custom metadata"},
		{f.Target(), `{"site":1}`, "no firmware field"},
		{f.Target(), `{"firmware":{"package":"other","version":"1.0","architecture":"arm64","rollout":100}}`, `package "other"`},
		{f.Target(), `{"firmware":{"package":"checkpoint","version":"dev","architecture":"arm64","rollout":100}}`, "start with a digit"},
		{f.Target(), `{"firmware":{"package":"checkpoint","version":"1.0","architecture":"ARM 64","rollout":100}}`, "architecture"},
		{f.Target(), `{"firmware":{"package":"checkpoint","version":"1.0","architecture":"arm64","rollout":0}}`, "rollout 0%"},
		{f.Target(), `{"firmware":{"package":"checkpoint","version":"1.0","architecture":"arm64","rollout":101}}`, "rollout 101%"},
		{"firmware/checkpoint_9.9_arm64.deb", string(custom), "its metadata names"},
	} {
		if _, err := ParseFirmware(c.path, []byte(c.custom)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseFirmware(%s, %s): %v, want %q", c.path, c.custom, err, c.want)
		}
	}
}

func TestPickFirmware(t *testing.T) {
	mk := func(v, arch string) (string, []byte) {
		f := Firmware{Package: "checkpoint", Version: v, Architecture: arch, Rollout: 100}
		c, _ := FirmwareCustom(f)
		return f.Target(), c
	}
	targets := map[string][]byte{"manifest.json": nil}
	for _, va := range [][2]string{{"1.9", "arm64"}, {"1.10", "arm64"}, {"2.0", "amd64"}} {
		p, c := mk(va[0], va[1])
		targets[p] = c
	}
	if f, err := PickFirmware(targets, "arm64"); err != nil || f.Version != "1.10" {
		t.Errorf("arm64: %+v, %v", f, err)
	}
	if _, err := PickFirmware(targets, "riscv64"); err != ErrNoFirmware {
		t.Errorf("riscv64: %v", err)
	}
}

// A rollout admits about its share of gates, the same ones as it widens.
func TestAdmitted(t *testing.T) {
	const n = 20000
	in10, in50 := 0, 0
	for i := range n {
		g := fmt.Sprintf("gate-%d", i)
		a10, a50 := Admitted(g, 10), Admitted(g, 50)
		if a10 && !a50 {
			t.Fatalf("%s in the 10%% rollout but not in the 50%% one", g)
		}
		if a10 {
			in10++
		}
		if a50 {
			in50++
		}
		if !Admitted(g, 100) {
			t.Fatalf("%s not in a 100%% rollout", g)
		}
	}
	if in10 < n*9/100 || in10 > n*11/100 || in50 < n*48/100 || in50 > n*52/100 {
		t.Errorf("10%%: %d of %d gates, 50%%: %d", in10, n, in50)
	}
}
