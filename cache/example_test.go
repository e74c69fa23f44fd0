package cache_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"checkpoint/cache"
)

// A gate's status cache: statuses go in by CSV (or by the feed) keyed by a
// keyed hash, and a lookup hashes the scanned key the same way.
func ExampleDB_Status() {
	dir, err := os.MkdirTemp("", "cache-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := cache.Open(ctx, filepath.Join(dir, "cache.db"), cache.Options{})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	n, err := db.ImportCSV(ctx, strings.NewReader("qid,status,valid_until\nQID0001,green,\nQID0002,red,\n"))
	if err != nil {
		panic(err)
	}
	e, ok, err := db.Status(ctx, "QID0001")
	fmt.Println(n, e.Color, ok, err)
	_, ok, _ = db.Status(ctx, "QID9999")
	fmt.Println(ok)
	// Output:
	// 2 green true <nil>
	// false
}
