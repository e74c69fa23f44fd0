package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Schema 5 packed the runs into blocks. A release before it refuses a file
// of schema 5 and does not start, so a package going back to an older
// version (a firmware rollback, or apt installing an older file) first has
// the cache rewritten in schema 4 (deb/prerm: checkpoint cache downgrade).
// A release that reads schema 5 upgrades it again when it opens it.

// downgradeTo is the schema Downgrade writes.
const downgradeTo = 4

// schema4Runs is the run table of schema 4.
const schema4Runs = `CREATE TABLE status_run(g INTEGER NOT NULL, h BLOB NOT NULL, s INTEGER NOT NULL, u INTEGER NOT NULL,
	PRIMARY KEY(g, h)) WITHOUT ROWID`

// Downgrade rewrites the cache file at path, in one transaction, in the
// layout of schema 4: each run's blocks as rows of status_run. It reports
// whether it changed the file; a file of schema 4 or older is left as it
// is. No other process may have the file open. The -wal and -shm files it
// leaves are given the cache file's owner (it runs as root from a package
// script).
func Downgrade(ctx context.Context, path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, fmt.Errorf("downgrade cache: %w", err)
	}
	db, err := sql.Open("sqlite3", dsn(path, true))
	if err != nil {
		return false, fmt.Errorf("downgrade cache %s: %w", path, err)
	}
	changed, err := downgrade(ctx, db)
	if err == nil {
		_, err = db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
		err = classify(err)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		for _, suffix := range []string{"-wal", "-shm"} {
			if err := os.Lchown(path+suffix, int(st.Uid), int(st.Gid)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return changed, fmt.Errorf("downgrade cache: give %s%s its owner back: %w", path, suffix, err)
			}
		}
	}
	if err != nil {
		return false, fmt.Errorf("downgrade cache %s: %w", path, err)
	}
	return changed, nil
}

// downgrade rewrites the runs in db's file as schema 4's rows.
func downgrade(ctx context.Context, db *sql.DB) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, classify(err)
	}
	defer tx.Rollback()
	var v int64
	if err := tx.QueryRowContext(ctx, "SELECT v FROM meta WHERE k = ?", metaSchema).Scan(&v); err != nil {
		return false, fmt.Errorf("read the schema version: %w", classify(err))
	}
	switch {
	case v <= downgradeTo:
		return false, nil
	case v > schemaVersion:
		return false, fmt.Errorf("cache schema version %d, this build writes back %d only", v, schemaVersion)
	}
	if _, err := tx.ExecContext(ctx, schema4Runs); err != nil {
		return false, fmt.Errorf("create the run rows: %w", classify(err))
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, b FROM status_block ORDER BY id")
	if err != nil {
		return false, fmt.Errorf("read the blocks: %w", classify(err))
	}
	ins, err := tx.PrepareContext(ctx, "INSERT OR REPLACE INTO status_run(g, h, s, u) VALUES (?, ?, ?, ?)")
	if err != nil {
		return false, classify(err)
	}
	defer ins.Close()
	err = eachRunRow(rows, func(g int64, h []byte, s, u int64) error {
		_, err := ins.ExecContext(ctx, g, h, s, u)
		return classify(err)
	})
	if err != nil {
		return false, fmt.Errorf("write the run rows: %w", err)
	}
	for _, q := range []string{"DROP TABLE status_block", fmt.Sprintf("UPDATE meta SET v = %d WHERE k = '%s'", downgradeTo, metaSchema)} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return false, fmt.Errorf("%s: %w", q, classify(err))
		}
	}
	return true, classify(tx.Commit())
}
