package publish

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"checkpoint/feed/format"
	"checkpoint/internal/atomicfile"
)

// siteOf returns the site a delegated role name stands for.
func siteOf(role string) (string, bool) {
	s, ok := strings.CutPrefix(role, "site-")
	return s, ok && format.CheckSiteName(s) == nil
}

// verifySite checks a site's signed role as a gate will: signed by the
// site's delegated key, no delegations of its own, targets only under
// sites/NAME/, each present (target returns a target's bytes by its
// hash-prefixed path) with its signed length and hash, the list made with
// the feed's hash key. Expiry is the caller's business.
func verifySite(dl *metadata.Delegations, site string, b []byte, hashKey []byte, target func(string) ([]byte, error)) (*metadata.Metadata[metadata.TargetsType], error) {
	role := format.SiteRole(site)
	if len(b) > format.MaxSiteRole {
		return nil, fmt.Errorf("site %s: role metadata is %d bytes, at most %d allowed", site, len(b), format.MaxSiteRole)
	}
	md, err := metadata.Targets().FromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("site %s: %w", site, err)
	}
	delegator := metadata.Targets(time.Now())
	delegator.Signed.Delegations = dl
	if dl == nil {
		return nil, fmt.Errorf("site %s is not delegated in this feed (run feed site init first)", site)
	}
	if err := delegator.VerifyDelegate(role, md); err != nil {
		return nil, fmt.Errorf("site %s: not signed by the site's key: %w", site, err)
	}
	if md.Signed.Delegations != nil {
		return nil, fmt.Errorf("site %s: a site may not delegate further", site)
	}
	if err := format.CheckSitePaths(site, slices.Collect(maps.Keys(md.Signed.Targets))); err != nil {
		return nil, err
	}
	for p, tf := range md.Signed.Targets {
		data, err := target(hashedName(tf))
		if err != nil {
			return nil, fmt.Errorf("site %s: target %s: %w", site, p, err)
		}
		if err := tf.VerifyLengthHashes(data); err != nil {
			return nil, fmt.Errorf("site %s: target %s: %w", site, p, err)
		}
		if p != format.SiteListTarget(site) {
			continue
		}
		if err := checkSiteList(tf, data, hashKey); err != nil {
			return nil, fmt.Errorf("site %s: %w", site, err)
		}
	}
	return md, nil
}

// checkSiteList checks a list's content against its target entry.
func checkSiteList(tf *metadata.TargetFiles, data, hashKey []byte) error {
	var raw []byte
	if tf.Custom != nil {
		raw = *tf.Custom
	}
	info, err := format.ParseSiteListInfo(raw)
	if err != nil {
		return err
	}
	if info.KeyID != format.KeyID(hashKey) {
		return errors.New("the list was made with another hash key than this feed's (an old kit?)")
	}
	recs, err := format.DecodeSiteList(data)
	if err != nil {
		return err
	}
	if int64(len(recs)) != info.Entries {
		return fmt.Errorf("the list holds %d entries, its metadata says %d", len(recs), info.Entries)
	}
	return nil
}

// readUnder reads a hash-prefixed target path under root.
func readUnder(root string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) { return os.ReadFile(filepath.Join(root, filepath.FromSlash(p))) }
}

// siteMetas brings every delegated site's newest signed role into repo/
// (role and targets, unchanged) and returns their snapshot entries, and
// whether any is newer than the snapshot's. An expired role is carried,
// with a warning: gates requiring it treat the list as stale.
func (r *repo) siteMetas(now time.Time, warn func(string)) (map[string]*metadata.MetaFiles, bool, error) {
	metas := map[string]*metadata.MetaFiles{}
	changed := false
	if r.delegations == nil {
		return metas, false, nil
	}
	for _, d := range r.delegations.Roles {
		site, ok := siteOf(d.Name)
		if !ok {
			return nil, false, fmt.Errorf("state/delegations.json: role %q is not a site", d.Name)
		}
		v, b, err := newestSigned(r.dir, d.Name, site)
		if err != nil || b == nil {
			return nil, false, fmt.Errorf("site %s: no signed role in %s (%v)", site, signedDir(r.dir, site), err)
		}
		var prev *metadata.MetaFiles
		if r.snapshot != nil {
			prev = r.snapshot.Signed.Meta[d.Name+".json"]
		}
		if prev != nil && v < prev.Version {
			return nil, false, fmt.Errorf("site %s: newest signed version %d is older than version %d already served", site, v, prev.Version)
		}
		md, err := verifySite(r.delegations, site, b, r.hashKey, readUnder(filepath.Join(signedDir(r.dir, site), "targets")))
		if err != nil {
			return nil, false, err
		}
		if md.Signed.IsExpired(now) {
			warn(fmt.Sprintf("site %s: its list expired on %s; gates that require it treat it as stale until the site publishes again", site, md.Signed.Expires.Format(time.RFC3339)))
		}
		if prev == nil || v > prev.Version {
			if err := r.copySite(site, d.Name, v, b, md); err != nil {
				return nil, false, err
			}
			changed = true
		}
		mf := metadata.MetaFile(v)
		h := sha256.Sum256(b)
		mf.Length, mf.Hashes = int64(len(b)), metadata.Hashes{"sha256": h[:]}
		metas[d.Name+".json"] = mf
	}
	return metas, changed, nil
}

// copySite copies a verified site role and its targets into repo/.
func (r *repo) copySite(site, role string, v int64, b []byte, md *metadata.Metadata[metadata.TargetsType]) error {
	src := filepath.Join(signedDir(r.dir, site), "targets")
	for _, tf := range md.Signed.Targets {
		name := filepath.FromSlash(hashedName(tf))
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return err
		}
		dst := filepath.Join(r.dir, "repo", "targets", name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := atomicfile.Write(dst, data, 0o644); err != nil {
			return fmt.Errorf("site %s: %w", site, err)
		}
	}
	return atomicfile.Write(r.meta(fmt.Sprintf("%d.%s.json", v, role)), b, 0o644)
}

// roleFile matches a signed site role's file name.
var roleFile = regexp.MustCompile(`^([0-9]+)\.site-([a-z0-9][a-z0-9-]{0,31})\.json$`)

// SiteImport checks signed site roles and their targets, sent by sites that
// publish on their own machines, into the feed's sites/NAME/signed/: each
// role must verify as a gate would check it (VerifySite), be newer than the
// newest already there, and not be expired. Files are the role files
// (N.site-NAME.json) and their targets (HASH.people.bin.gz), in any order.
// Nothing is written unless every role passes.
func SiteImport(dir string, files []string, opts SiteOptions) ([]SiteResult, error) {
	opts.defaults()
	r, err := openRepo(dir)
	if err != nil {
		return nil, fmt.Errorf("site import: %w", err)
	}
	byBase := map[string]string{}
	var roles []string
	for _, f := range files {
		if roleFile.MatchString(filepath.Base(f)) {
			roles = append(roles, f)
		} else {
			byBase[filepath.Base(f)] = f
		}
	}
	if len(roles) == 0 {
		return nil, errors.New("site import: no role file (N.site-NAME.json) among the files")
	}
	var out []SiteResult
	var writes []func() error
	for _, rf := range roles {
		res, write, err := r.importRole(rf, byBase, opts.Clock.Now())
		if err != nil {
			return nil, fmt.Errorf("site import %s: %w", rf, err)
		}
		out = append(out, res)
		writes = append(writes, write)
	}
	for _, w := range writes {
		if err := w(); err != nil {
			return nil, fmt.Errorf("site import: %w", err)
		}
	}
	return out, nil
}

// importRole checks one role file and returns what it is and how to store it.
func (r *repo) importRole(rf string, byBase map[string]string, now time.Time) (SiteResult, func() error, error) {
	m := roleFile.FindStringSubmatch(filepath.Base(rf))
	site := m[2]
	v, _ := strconv.ParseInt(m[1], 10, 64)
	b, err := os.ReadFile(rf)
	if err != nil {
		return SiteResult{}, nil, err
	}
	have, _, err := newestSigned(r.dir, format.SiteRole(site), site)
	if err != nil {
		return SiteResult{}, nil, err
	}
	target := func(p string) ([]byte, error) {
		if f, ok := byBase[filepath.Base(p)]; ok {
			return os.ReadFile(f)
		}
		return readUnder(filepath.Join(signedDir(r.dir, site), "targets"))(p)
	}
	md, err := verifySite(r.delegations, site, b, r.hashKey, target)
	switch {
	case err != nil:
		return SiteResult{}, nil, err
	case md.Signed.Version != v:
		return SiteResult{}, nil, fmt.Errorf("the file is named version %d but holds version %d", v, md.Signed.Version)
	case v <= have:
		return SiteResult{}, nil, fmt.Errorf("rollback: version %d of site %s is not newer than version %d already imported", v, site, have)
	case md.Signed.IsExpired(now):
		return SiteResult{}, nil, fmt.Errorf("site %s's list expired on %s: ask the site to publish again", site, md.Signed.Expires.Format(time.RFC3339))
	}
	res := SiteResult{Site: site, Version: v, Expires: md.Signed.Expires}
	write := func() error {
		sd := signedDir(r.dir, site)
		for _, tf := range md.Signed.Targets {
			data, err := target(hashedName(tf))
			if err != nil {
				return err
			}
			dst := filepath.Join(sd, "targets", filepath.FromSlash(hashedName(tf)))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := atomicfile.Write(dst, data, 0o644); err != nil {
				return err
			}
			res.Files = append(res.Files, dst)
		}
		return atomicfile.Write(filepath.Join(sd, filepath.Base(rf)), b, 0o644)
	}
	if tf, ok := md.Signed.Targets[format.SiteListTarget(site)]; ok && tf.Custom != nil {
		if info, err := format.ParseSiteListInfo(*tf.Custom); err == nil {
			res.Entries = info.Entries
		}
	}
	return res, write, nil
}
