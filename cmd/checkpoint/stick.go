package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"checkpoint/feed"
)

// A USB stick labelled CHECKPOINT is mounted read-only by
// systemd/checkpoint-stick@.service, which then sends the daemon SIGUSR1:
// the daemon syncs from feed.stick with the same checks as the network
// feed, plays the stick-taken or stick-refused pattern, and shows the
// result on the operator screen.

// takeSticks turns each SIGUSR1 into a sync from feed.stick.
func (g *gate) takeSticks(ctx context.Context, s *feed.Syncer) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.stick:
			g.log.Info("stick: syncing from it", "dir", g.cfg.Feed.Stick)
			s.TriggerFrom(g.cfg.Feed.Stick)
		}
	}
}

// ignoreSticks answers SIGUSR1 on a gate without a feed.
func (g *gate) ignoreSticks(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.stick:
			g.log.Warn("stick ignored: no feed (feed.stick and the feed's root, feed.root, are needed)")
			g.ind.Play(g.ind.Patterns().StickRefused)
		}
	}
}

// stickDone shows a stick's result with its pattern.
func (g *gate) stickDone(_ feed.Result, err error) {
	p := g.ind.Patterns().StickTaken
	if err != nil {
		p = g.ind.Patterns().StickRefused
	}
	g.ind.Play(p)
}

// stickNote is a stick's result in words, for the operator screen.
func stickNote(d feed.DirectoryResult) string {
	at := d.At.Local().Format("15:04")
	switch {
	case d.At.IsZero():
		return ""
	case d.Kind == feed.KindRollback:
		return fmt.Sprintf("USB %s: cũ hơn dữ liệu của cổng · refused, older than the gate's feed", at)
	case d.Err != "":
		return fmt.Sprintf("USB %s: bị từ chối · refused (%s)", at, d.Kind)
	case d.Mode == "none":
		return fmt.Sprintf("USB %s: đã cập nhật · already up to date (v%d)", at, d.Version)
	}
	return fmt.Sprintf("USB %s: đã nhận · taken, v%d", at, d.Version)
}

// fileExists reports whether name can be stat'ed.
func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// stale is the idle pattern's staleness: the cache's, or, on a gate that
// requires its site's list, a list missing or expired.
func (g *gate) stale(now time.Time) bool {
	return g.db.Stale(now) || (g.cfg.Policy.SiteList == "require" && !g.listCurrent(now))
}

// listCurrent reports whether the gate holds its site's list, current at now.
func (g *gate) listCurrent(now time.Time) bool { return g.db.SiteListCurrent(g.cfg.Site, now) }
