package feed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// rootMark, in Dir, holds the SHA-256 of the provisioned root the trusted
// metadata in Dir/metadata descends from; metaRoot, in the cache, that of
// the root whose feed the cache's data came from.
const (
	rootMark = "root.sha256"
	metaRoot = "feed_root"
)

// rootID identifies a provisioned root.json.
func rootID(root []byte) string {
	h := sha256.Sum256(root)
	return hex.EncodeToString(h[:])
}

// checkRoot makes the trusted metadata descend from the provisioned root.
// When it was provisioned anew (the gate moved to another feed, or the
// authority re-keyed), the stored chain is dropped once, with one log line:
// the next refresh starts over from the provisioned root. The cache keeps
// serving its data, marked as another feed's, until the new feed's first
// snapshot replaces it (see owned).
func (s *Syncer) checkRoot(ctx context.Context) error {
	mdir := filepath.Join(s.cfg.Dir, "metadata")
	if err := os.MkdirAll(mdir, 0o700); err != nil {
		return fmt.Errorf("feed state: %w", err)
	}
	mark, _ := os.ReadFile(filepath.Join(s.cfg.Dir, rootMark))
	stored, serr := os.ReadFile(filepath.Join(mdir, "root.json"))
	owner, err := s.db.Meta(ctx, metaRoot)
	if err != nil {
		return err
	}
	switch {
	case string(mark) == s.rootID:
		return nil
	case serr != nil || (len(mark) == 0 && string(stored) == string(s.cfg.Root)):
		// A first sync, or a chain kept before the mark existed: the
		// cache's data, if any, is this feed's.
		if owner == nil {
			if err := s.db.PutMeta(ctx, metaRoot, []byte(s.rootID)); err != nil {
				return err
			}
		}
	default:
		s.log.Warn("feed root changed: starting over from the provisioned root; the cache serves its data until the new feed's first snapshot")
		if owner == nil {
			if err := s.db.PutMeta(ctx, metaRoot, []byte("unknown")); err != nil {
				return err
			}
		}
		ents, err := os.ReadDir(mdir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("feed state: %w", err)
		}
		for _, e := range ents {
			if err := os.Remove(filepath.Join(mdir, e.Name())); err != nil {
				return fmt.Errorf("feed state: %w", err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(s.cfg.Dir, rootMark), []byte(s.rootID), 0o600); err != nil {
		return fmt.Errorf("feed state: %w", err)
	}
	return nil
}

// owned reports whether the cache's data came from the provisioned root's
// feed: only then do its version and hash key count against the feed's.
func (s *Syncer) owned(ctx context.Context) (bool, error) {
	owner, err := s.db.Meta(ctx, metaRoot)
	return string(owner) == s.rootID, err
}
