// Package debtest makes small Debian packages for tests: real ar archives
// with control.tar.gz and data.tar.gz, as dpkg-deb reads them.
package debtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Package is a package to build.
type Package struct {
	Name, Version, Arch string // Arch: "all" when empty
	// Files are the data files by absolute path; a path ending in "/" is a
	// directory. Executable files start with "#!".
	Files map[string]string
	// Scripts are maintainer scripts by name (postinst, prerm...).
	Scripts   map[string]string
	Conffiles []string
}

// Build returns the package as a .deb.
func (p Package) Build() []byte {
	arch := p.Arch
	if arch == "" {
		arch = "all"
	}
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: test <test@checkpoint.invalid>\nDescription: test package\n", p.Name, p.Version, arch)
	ctl := map[string]string{"./control": control}
	for name, s := range p.Scripts {
		ctl["./"+name] = s
	}
	if len(p.Conffiles) > 0 {
		ctl["./conffiles"] = strings.Join(p.Conffiles, "\n") + "\n"
	}
	data := map[string]string{}
	for name, s := range p.Files {
		data["."+name] = s
	}
	var out bytes.Buffer
	out.WriteString("!<arch>\n")
	member(&out, "debian-binary", []byte("2.0\n"))
	member(&out, "control.tar.gz", tgz(ctl))
	member(&out, "data.tar.gz", tgz(data))
	return out.Bytes()
}

// member appends one ar member.
func member(w *bytes.Buffer, name string, b []byte) {
	fmt.Fprintf(w, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name, 0, 0, 0, "100644", len(b))
	w.Write(b)
	if len(b)%2 == 1 {
		w.WriteByte('\n')
	}
}

// tgz returns a gzip tar of files (parents made), owned by root.
func tgz(files map[string]string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	dirs := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		parts := strings.Split(strings.TrimSuffix(name, "/"), "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/") + "/"
			if !dirs[d] {
				dirs[d] = true
				tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0), Uname: "root", Gname: "root"})
			}
		}
		if strings.HasSuffix(name, "/") {
			if !dirs[name] {
				dirs[name] = true
				tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0), Uname: "root", Gname: "root"})
			}
			continue
		}
		mode := int64(0o644)
		if strings.HasPrefix(files[name], "#!") {
			mode = 0o755
		}
		tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(files[name])), ModTime: time.Unix(0, 0), Uname: "root", Gname: "root"})
		tw.Write([]byte(files[name]))
	}
	tw.Close()
	zw.Close()
	return b.Bytes()
}
