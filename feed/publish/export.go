package publish

import (
	"checkpoint/internal/atomicfile"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// ExportResult says what Export wrote.
type ExportResult struct {
	Version int64 // the feed version (manifest) exported
	Files   int
	Bytes   int64
}

// exportName matches what an export writes at its top: N.ROLE.json,
// root.json and timestamp.json (anything else in DEST is left alone).
var exportName = regexp.MustCompile(`^([0-9]+\.[a-z0-9-]+|root|timestamp)\.json$`)

// Export writes into dest what a gate needs to sync without a network (a
// USB stick's feed/ folder, read by `checkpoint sync --from`): every root
// version, the current timestamp, snapshot, targets and site roles, and
// every target they list (the manifest, the snapshot's chunks, the deltas
// a gate may lack, the side files, the sites' lists), each checked against
// its signed hash as it is copied. The timestamp is written last; files of
// an older export that are no longer needed are removed. dest must be
// empty or hold an earlier export.
func Export(dir, dest string) (*ExportResult, error) {
	r, err := openRepo(dir)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", dir, err)
	}
	if r.timestamp == nil {
		return nil, fmt.Errorf("export %s: nothing published yet", dir)
	}
	if err := checkDest(dest); err != nil {
		return nil, err
	}
	e := &exporter{repo: filepath.Join(dir, "repo"), dest: dest, keep: map[string]bool{}}
	names, err := r.exportMetadata()
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", dir, err)
	}
	for _, n := range names {
		if err := e.copy(n, nil); err != nil {
			return nil, err
		}
	}
	if err := e.targets(r.targets); err != nil {
		return nil, err
	}
	for name := range r.snapshot.Signed.Meta {
		if name == "targets.json" {
			continue
		}
		role, err := metadata.Targets().FromFile(r.meta(fmt.Sprintf("%d.%s", r.snapshot.Signed.Meta[name].Version, name)))
		if err != nil {
			return nil, fmt.Errorf("export: %s: %w", name, err)
		}
		if err := e.targets(role); err != nil {
			return nil, err
		}
	}
	if err := e.copy("timestamp.json", nil); err != nil {
		return nil, err
	}
	e.prune()
	return &ExportResult{Version: r.manifest.Version, Files: len(e.keep), Bytes: e.bytes}, nil
}

// checkDest refuses a destination with files that are not an export's.
func checkDest(dest string) error {
	ents, err := os.ReadDir(dest)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(dest, 0o755)
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !(exportName.MatchString(e.Name()) || (e.Name() == "targets" && e.IsDir()) || strings.HasPrefix(e.Name(), ".tmp-")) {
			return fmt.Errorf("export: %s holds %s, which no export wrote: give an empty folder (such as the stick's feed/)", dest, e.Name())
		}
	}
	return nil
}

// exportMetadata lists the metadata files of the current version: every
// root, the snapshot and what it names.
func (r *repo) exportMetadata() ([]string, error) {
	names := []string{"root.json"}
	for v := int64(1); v <= r.root.Signed.Version; v++ {
		names = append(names, fmt.Sprintf("%d.root.json", v))
	}
	names = append(names, fmt.Sprintf("%d.snapshot.json", r.timestamp.Signed.Meta["snapshot.json"].Version))
	for name, mf := range r.snapshot.Signed.Meta {
		names = append(names, fmt.Sprintf("%d.%s", mf.Version, name))
	}
	return names, nil
}

// exporter copies files from a repository into dest.
type exporter struct {
	repo, dest string
	keep       map[string]bool // slash paths written
	bytes      int64
}

// copy copies one file (a slash path relative to the repository), checked
// against tf when given.
func (e *exporter) copy(name string, tf *metadata.TargetFiles) error {
	b, err := os.ReadFile(filepath.Join(e.repo, filepath.FromSlash(name)))
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if tf != nil {
		if err := tf.VerifyLengthHashes(b); err != nil {
			return fmt.Errorf("export: %s does not match its signed hash: %w", name, err)
		}
	}
	dst := filepath.Join(e.dest, filepath.FromSlash(name))
	if old, err := os.ReadFile(dst); err != nil || sha256.Sum256(old) != sha256.Sum256(b) {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := atomicfile.Write(dst, b, 0o644); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	e.keep[name] = true
	e.bytes += int64(len(b))
	return nil
}

// targets copies every target a targets role lists.
func (e *exporter) targets(role *metadata.Metadata[metadata.TargetsType]) error {
	for _, tf := range role.Signed.Targets {
		if err := e.copy("targets/"+hashedName(tf), tf); err != nil {
			return err
		}
	}
	return nil
}

// prune removes the files an earlier export wrote that this one did not.
// A failure costs only space on the stick.
func (e *exporter) prune() {
	filepath.WalkDir(e.dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(e.dest, p)
		rel = filepath.ToSlash(rel)
		ours := strings.HasPrefix(rel, "targets/") || exportName.MatchString(rel)
		if ours && !e.keep[rel] {
			os.Remove(p)
		}
		return nil
	})
}
