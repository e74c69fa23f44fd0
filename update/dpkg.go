package update

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Dpkg is the Packager of a Debian system: dpkg, dpkg-query and dpkg-deb.
type Dpkg struct {
	Package string // the package's name (format.FirmwarePackage)
	// Root, when set, is the root file system dpkg works on (dpkg --root),
	// for tests; empty: this system.
	Root string
}

var _ Packager = Dpkg{}

func (d Dpkg) admin() string { return filepath.Join(d.Root, "var/lib/dpkg") }

// run runs a command, returning its output; an error carries the tail of it.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		tail := strings.TrimSpace(out.String())
		if len(tail) > 800 {
			tail = "…" + tail[len(tail)-800:]
		}
		return out.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, tail)
	}
	return out.Bytes(), nil
}

// Installed implements Packager.
func (d Dpkg) Installed(ctx context.Context) (string, error) {
	out, err := run(ctx, "dpkg-query", "--admindir="+d.admin(), "-W", "-f", "${db:Status-Abbrev}|${Version}", d.Package)
	if err != nil {
		if strings.Contains(string(out), "no packages found") {
			return "", nil
		}
		return "", err
	}
	status, version, _ := strings.Cut(string(out), "|")
	switch strings.TrimSpace(status) {
	case "ii":
		return version, nil
	case "un", "rc", "pn":
		return "", nil
	}
	return "", fmt.Errorf("%s %s is not fully installed (dpkg status %q)", d.Package, version, strings.TrimSpace(status))
}

// Install implements Packager: dpkg -i, keeping conffiles the gate
// changed (the config imported at first boot) and asking nothing.
func (d Dpkg) Install(ctx context.Context, file string) error {
	args := []string{"--force-confdef", "--force-confold"}
	if d.Root != "" {
		args = append(args, "--root="+d.Root, "--force-script-chrootless", "--force-not-root")
	}
	_, err := run(ctx, "dpkg", append(args, "-i", file)...)
	return err
}

// Inspect implements Packager.
func (d Dpkg) Inspect(ctx context.Context, file string) (name, version, arch string, err error) {
	out, err := run(ctx, "dpkg-deb", "-f", file, "Package", "Version", "Architecture")
	if err != nil {
		return "", "", "", err
	}
	f := fields(out)
	return f["Package"], f["Version"], f["Architecture"], nil
}

// fields reads "Key: value" lines.
func fields(b []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && !strings.HasPrefix(k, " ") {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// Save implements Packager: the installed package rebuilt from dpkg's
// database and the installed files (what dpkg-repack does), so a gate
// whose package came from elsewhere (apt install ./checkpoint_….deb, the
// image) can still roll back to it. A conffile the gate changed (the
// config imported at first boot) is left out: shipped, dpkg would record
// the gate's version as the package's, take it for unchanged and replace
// it at the next upgrade; left out, it stays on disk as it is.
func (d Dpkg) Save(ctx context.Context, dst string) error {
	stage, err := os.MkdirTemp(filepath.Dir(dst), ".repack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	ctl := filepath.Join(stage, "DEBIAN")
	if err := os.MkdirAll(ctl, 0o755); err != nil {
		return err
	}
	status, err := run(ctx, "dpkg-query", "--admindir="+d.admin(), "-s", d.Package)
	if err != nil {
		return err
	}
	recorded, err := d.control(status, ctl)
	if err != nil {
		return err
	}
	var conffiles []string
	changed := map[string]bool{}
	for path, sum := range recorded {
		if fileMD5(filepath.Join(d.Root, path)) == sum {
			conffiles = append(conffiles, path)
		} else {
			changed[path] = true
		}
	}
	sort.Strings(conffiles)
	if err := d.files(ctx, stage, changed); err != nil {
		return err
	}
	if len(conffiles) > 0 {
		if err := os.WriteFile(filepath.Join(ctl, "conffiles"), []byte(strings.Join(conffiles, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	info := filepath.Join(d.admin(), "info")
	for _, s := range []string{"preinst", "postinst", "prerm", "postrm", "md5sums"} {
		mode := os.FileMode(0o755)
		if s == "md5sums" {
			mode = 0o644
		}
		if b, err := os.ReadFile(filepath.Join(info, d.Package+"."+s)); err == nil {
			if err := os.WriteFile(filepath.Join(ctl, s), b, mode); err != nil {
				return err
			}
		}
	}
	// Uncompressed: it never leaves the gate, and a Pi builds it sooner.
	_, err = run(ctx, "dpkg-deb", "--root-owner-group", "-Znone", "--build", stage, dst)
	return err
}

// control writes DEBIAN/control from the package's status stanza and
// returns its conffiles with the MD5 dpkg recorded for each.
func (d Dpkg) control(status []byte, ctl string) (map[string]string, error) {
	var out bytes.Buffer
	conffiles := map[string]string{}
	inConf := false
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, " ") && inConf {
			if f := strings.Fields(l); len(f) >= 2 && (len(f) == 2 || f[2] != "obsolete") {
				conffiles[f[0]] = f[1]
			}
			continue
		}
		inConf = false
		k, _, _ := strings.Cut(l, ":")
		switch k {
		case "Status", "Config-Version":
			continue
		case "Conffiles":
			inConf = true
			continue
		}
		if l != "" {
			out.WriteString(l + "\n")
		}
	}
	return conffiles, os.WriteFile(filepath.Join(ctl, "control"), out.Bytes(), 0o644)
}

// files copies the package's installed files (dpkg's list) into stage,
// but those in skip.
func (d Dpkg) files(ctx context.Context, stage string, skip map[string]bool) error {
	list, err := os.ReadFile(filepath.Join(d.admin(), "info", d.Package+".list"))
	if err != nil {
		return fmt.Errorf("the installed package's file list: %w", err)
	}
	for _, p := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		if p == "" || p == "/." || skip[p] {
			continue
		}
		src, dst := filepath.Join(d.Root, p), filepath.Join(stage, p)
		fi, err := os.Lstat(src)
		if err != nil {
			return fmt.Errorf("installed file %s: %w", p, err)
		}
		switch {
		case fi.IsDir():
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(dst, fi.Mode().Perm()); err != nil {
				return err
			}
		case fi.Mode()&os.ModeSymlink != 0:
			t, err := os.Readlink(src)
			if err == nil {
				err = os.Symlink(t, dst)
			}
			if err != nil {
				return err
			}
		default:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := copyPlain(src, dst, fi.Mode().Perm()); err != nil {
				return err
			}
		}
	}
	return nil
}

// fileMD5 is the MD5 of a file in hex, "" when it cannot be read.
func fileMD5(name string) string {
	f, err := os.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

func copyPlain(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

func splitLines(b []byte) []string { return strings.Split(strings.TrimSpace(string(b)), "\n") }

func cut(s, sep string) (string, string, bool) { return strings.Cut(s, sep) }
