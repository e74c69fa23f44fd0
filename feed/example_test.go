package feed_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"checkpoint/cache"
	"checkpoint/feed"
	"checkpoint/feed/publish"
)

// The authority publishes a signed feed of static files; a gate provisioned
// with its root.json fetches, verifies and applies it to its cache.
func ExampleSyncer_Sync() {
	dir, err := os.MkdirTemp("", "feed-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// Authority side.
	authority := filepath.Join(dir, "authority")
	if err := publish.Init(authority, publish.InitOptions{}); err != nil {
		panic(err)
	}
	csv := strings.NewReader("qid,status,valid_until\nQID0001,green,\nQID0002,yellow,\n")
	if _, err := publish.Publish(ctx, authority, publish.Inputs{Statuses: csv}, publish.Options{}); err != nil {
		panic(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(authority, "repo"))))
	defer srv.Close()

	// Gate side.
	root, err := os.ReadFile(filepath.Join(authority, "repo", "root.json"))
	if err != nil {
		panic(err)
	}
	db, err := cache.Open(ctx, filepath.Join(dir, "gate.db"), cache.Options{})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	s, err := feed.NewSyncer(db, feed.Options{URL: srv.URL, Root: root, Dir: filepath.Join(dir, "gate.feed"),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	res, err := s.Sync(ctx)
	if err != nil {
		panic(err)
	}
	e, _, _ := db.Status(ctx, "QID0002")
	fmt.Println(res.Mode, res.To, res.Applied, e.Color)
	// Output: snapshot 1 2 yellow
}
