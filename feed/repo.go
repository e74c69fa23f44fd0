package feed

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	tufconfig "github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// repo is one sync's view of the feed's repository: go-tuf's updater over
// the trusted metadata in dir/metadata (downloads in dir/targets), and the
// verified targets this sync holds in memory.
//
// A gate's card wears by what is written to it, and a small file created,
// renamed or removed costs the file system's journal more blocks than its
// own bytes. So the updater is kept from writing what is already there
// (the trusted root it starts from) and what is read once and thrown away
// (a sync's small downloads). go-tuf has no option for either; the updater
// keeps the config it was given, and cfg.DisableLocalCache is set only
// around those two calls (feed/wear_test.go checks both ways: run it again
// when go-tuf is upgraded).
type repo struct {
	*updater.Updater
	cfg  *tufconfig.UpdaterConfig
	held map[string][]byte // verified targets kept in memory, by path
}

// newRepo builds the updater from the stored root, or the provisioned one
// when none is stored, checking expiry at now.
func newRepo(provisioned []byte, dir string, f source, now time.Time) (*repo, error) {
	mdir, tdir := filepath.Join(dir, "metadata"), filepath.Join(dir, "targets")
	for _, d := range []string{mdir, tdir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("feed state: %w", err)
		}
	}
	root, stored := provisioned, false
	if b, err := os.ReadFile(filepath.Join(mdir, "root.json")); err == nil {
		root, stored = b, true
	}
	cfg, err := tufconfig.New(f.url(), root)
	if err != nil {
		return nil, fmt.Errorf("feed config: %w", err)
	}
	cfg.LocalMetadataDir, cfg.LocalTargetsDir = mdir, tdir
	cfg.Fetcher = f
	// updater.New writes the root it starts from back to root.json: not
	// when it was read from there. A newer root it verifies is stored.
	cfg.DisableLocalCache = stored
	up, err := updater.New(cfg)
	cfg.DisableLocalCache = false
	if err != nil {
		if root != nil && !bytes.Equal(root, provisioned) {
			// The stored root is unusable (for example truncated by a power
			// cut): start again from the provisioned one.
			os.Remove(filepath.Join(mdir, "root.json"))
			cfg.LocalTrustedRoot = provisioned
			up, err = updater.New(cfg)
		}
		if err != nil {
			return nil, fmt.Errorf("load trusted root: %w", err)
		}
	}
	up.UnsafeSetRefTime(now.UTC())
	return &repo{Updater: up, cfg: cfg, held: map[string][]byte{}}, nil
}

// info returns the signed length and hashes of a target, refusing one
// longer than limit.
func (r *repo) info(path string, limit int64) (*metadata.TargetFiles, error) {
	tf, err := r.GetTargetInfo(path)
	if err != nil {
		return nil, fmt.Errorf("%w: target %s: %w", errFeed, path, err)
	}
	if err := fits(path, tf.Length, limit); err != nil {
		return nil, err
	}
	return tf, nil
}

func fits(path string, n, limit int64) error {
	if n > limit {
		return fmt.Errorf("%w: target %s is %d bytes, at most %d allowed", errFeed, path, n, limit)
	}
	return nil
}

// target returns a verified target: held in memory, in the download folder
// when a previous sync already fetched it, else from the server into the
// folder.
func (r *repo) target(path string, limit int64) ([]byte, error) {
	if b, ok := r.held[path]; ok {
		return b, fits(path, int64(len(b)), limit)
	}
	tf, err := r.info(path, limit)
	if err != nil {
		return nil, err
	}
	return r.get(tf, true)
}

// fetch has every target in paths verified before they are applied (the
// write transaction then never waits on the network). When they total at
// most hold bytes they are held in memory, in place of what an earlier
// fetch held (a delta refused before the snapshot); otherwise they go to
// the download folder, where those finished before an interruption wait
// for the next sync.
// It returns their signed bytes in all.
func (r *repo) fetch(paths []string, limit, hold int64) (int64, error) {
	clear(r.held)
	tfs := make([]*metadata.TargetFiles, len(paths))
	var total int64
	for i, p := range paths {
		tf, err := r.info(p, limit)
		if err != nil {
			return 0, err
		}
		tfs[i], total = tf, total+tf.Length
	}
	for i, p := range paths {
		b, err := r.get(tfs[i], total > hold)
		if err != nil {
			return 0, err
		}
		if total <= hold {
			r.held[p] = b
		}
	}
	return total, nil
}

// get returns tf's verified bytes: from the download folder when a
// previous sync left them there, else downloaded, and written to the
// folder only if keep.
func (r *repo) get(tf *metadata.TargetFiles, keep bool) ([]byte, error) {
	if _, b, err := r.FindCachedTarget(tf, ""); err == nil && b != nil {
		return b, nil
	}
	if !keep {
		r.cfg.DisableLocalCache = true
		defer func() { r.cfg.DisableLocalCache = false }()
	}
	_, b, err := r.DownloadTarget(tf, "", "")
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", tf.Path, err)
	}
	return b, nil
}
