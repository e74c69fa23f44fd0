package cache

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"

	sqlite3 "github.com/mattn/go-sqlite3"
)

const schema = `
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status(h BLOB PRIMARY KEY, s INTEGER NOT NULL, u INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status_block(id INTEGER PRIMARY KEY, b BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS status_runs(g INTEGER PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS site(h BLOB PRIMARY KEY, u INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS revoked(t INTEGER NOT NULL, h BLOB NOT NULL, PRIMARY KEY(t, h)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signer(kid BLOB NOT NULL, der BLOB NOT NULL, PRIMARY KEY(kid, der)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event(
	t INTEGER NOT NULL, gate TEXT NOT NULL, format TEXT NOT NULL,
	verdict INTEGER NOT NULL, reasons TEXT NOT NULL, kh BLOB, dir TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS event_t ON event(t);
` + eventHourTable

// eventHourTable holds the hourly counts; dir is the gate's direction (in,
// out, or ” for none).
const eventHourTable = `CREATE TABLE IF NOT EXISTS event_hour(
	hour INTEGER NOT NULL, gate TEXT NOT NULL, format TEXT NOT NULL, verdict INTEGER NOT NULL,
	dir TEXT NOT NULL DEFAULT '', n INTEGER NOT NULL, PRIMARY KEY(hour, gate, dir, format, verdict)) WITHOUT ROWID;
`

// upgradeEvents adds the direction to the event log of a schema 1 or 2
// file (schema 3 added it): a column of the entries, and a key column of the hourly counts
// (whose table is rebuilt, counts kept).
const upgradeEvents = `
ALTER TABLE event ADD COLUMN dir TEXT NOT NULL DEFAULT '';
ALTER TABLE event_hour RENAME TO event_hour_v2;
` + eventHourTable + `
INSERT INTO event_hour(hour, gate, format, verdict, dir, n) SELECT hour, gate, format, verdict, '', n FROM event_hour_v2;
DROP TABLE event_hour_v2;
`

// Meta keys.
const (
	metaSchema   = "schema"
	metaKey      = "hmac_key"
	metaKeyFrom  = "hmac_key_source" // "local" or "feed"
	metaVersion  = "feed_version"
	metaFeedTime = "feed_time"  // unix nanos
	metaUpdated  = "updated"    // unix nanos
	metaExpires  = "expires"    // unix nanos
	metaRules    = "rules"      // rule profile blob
	metaRebuild  = "rebuilding" // "1" while waiting for a snapshot after a corrupt file
	metaBaseRows = "base_rows"  // rows in the base status table (see merge.go)
	metaDeltaGen = "delta_gen"  // bumped by every commit that changes the runs (see filter.go)
	metaSite     = "site_list"  // the site list's JSON (site.go); empty: none
	metaUser     = "x:"         // prefix of the values of Update.SetMeta
)

func (d *DB) migrate(ctx context.Context) error {
	tx, err := d.wr.BeginTx(ctx, nil)
	if err != nil {
		return classify(err)
	}
	defer tx.Rollback()
	var v sql.NullInt64
	err = tx.QueryRowContext(ctx, "SELECT v FROM meta WHERE k = ?", metaSchema).Scan(&v)
	switch {
	case err == nil && v.Int64 >= 1 && v.Int64 < schemaVersion:
		if err := upgrade(ctx, tx, v.Int64); err != nil {
			return fmt.Errorf("upgrade schema %d to %d: %w", v.Int64, schemaVersion, err)
		}
	case err == nil:
		if v.Int64 != schemaVersion {
			return fmt.Errorf("cache schema version %d, this build reads %d", v.Int64, schemaVersion)
		}
	case errors.Is(err, sql.ErrNoRows) || isNoTable(err):
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return fmt.Errorf("create schema: %w", classify(err))
		}
		key := make([]byte, KeySize)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		if err := setMetas(ctx, tx, map[string]any{metaSchema: schemaVersion, metaKey: key, metaKeyFrom: "local", metaDeltaGen: int64(0)}); err != nil {
			return err
		}
	default:
		return classify(err)
	}
	return classify(tx.Commit())
}

// upgrade brings a file of an older schema to this one in tx. Schema 1 had
// no delta table: the base is counted once. Schemas 2 and 3 had one delta
// table, status_delta(h, s, u): its rows become one run. Schema 4 kept the
// runs as rows, status_run(g, h, s, u): they are packed into blocks.
// Schemas 1 and 2 had neither the site table nor the direction in the
// event log. The base table is the same in every schema (valid-untils in
// seconds read as before), so an upgrade costs the size of the runs and
// the event log's hourly counts, not of the file.
func upgrade(ctx context.Context, tx *sql.Tx, from int64) error {
	if from < 3 {
		if _, err := tx.ExecContext(ctx, upgradeEvents); err != nil {
			return fmt.Errorf("add directions to the event log: %w", classify(err))
		}
	}
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return classify(err)
	}
	meta := map[string]any{metaSchema: schemaVersion}
	if from == 1 {
		var n int64
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM status").Scan(&n); err != nil {
			return fmt.Errorf("count statuses: %w", classify(err))
		}
		meta[metaBaseRows], meta[metaDeltaGen] = n, int64(0)
	} else if err := upgradeDeltaTable(ctx, tx); err != nil {
		return err
	} else if err := upgradeRunRows(ctx, tx); err != nil {
		return err
	}
	return setMetas(ctx, tx, meta)
}

// upgradeDeltaTable turns the delta table of schemas 2 and 3 into one run.
func upgradeDeltaTable(ctx context.Context, tx *sql.Tx) error {
	if ok, err := hasTable(ctx, tx, "status_delta"); err != nil || !ok {
		return err
	}
	gen, err := bumpDeltaGen(ctx, tx)
	if err != nil {
		return err
	}
	n, err := packRun(ctx, tx, gen, nil, "SELECT h, s, u FROM status_delta ORDER BY h")
	if err != nil {
		return fmt.Errorf("copy the delta table: %w", err)
	}
	if n > 0 {
		if _, err := tx.ExecContext(ctx, "INSERT INTO status_runs(g, n) VALUES (?, ?)", gen, n); err != nil {
			return fmt.Errorf("record the run: %w", classify(err))
		}
	}
	if _, err := tx.ExecContext(ctx, "DROP TABLE status_delta"); err != nil {
		return fmt.Errorf("drop the delta table: %w", classify(err))
	}
	return nil
}

// upgradeRunRows packs the run rows of schema 4 into blocks, each run
// status_runs lists (rows of runs it does not list were never read).
func upgradeRunRows(ctx context.Context, tx *sql.Tx) error {
	if ok, err := hasTable(ctx, tx, "status_run"); err != nil || !ok {
		return err
	}
	runs, err := readRuns(ctx, tx)
	if err != nil {
		return err
	}
	for _, r := range runs {
		n, err := packRun(ctx, tx, r.g, nil, "SELECT h, s, u FROM status_run WHERE g = ? ORDER BY h", r.g)
		if err != nil {
			return fmt.Errorf("pack run %d: %w", r.g, err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE status_runs SET n = ? WHERE g = ?", n, r.g); err != nil {
			return fmt.Errorf("record run %d: %w", r.g, classify(err))
		}
	}
	if _, err := tx.ExecContext(ctx, "DROP TABLE status_run"); err != nil {
		return fmt.Errorf("drop the run rows: %w", classify(err))
	}
	return nil
}

// hasTable reports whether the main database has a table called name.
func hasTable(ctx context.Context, tx *sql.Tx, name string) (bool, error) {
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", name).Scan(&n); err != nil {
		return false, fmt.Errorf("look for table %s: %w", name, classify(err))
	}
	return n > 0, nil
}

// setMetas writes meta rows in tx.
func setMetas(ctx context.Context, tx *sql.Tx, meta map[string]any) error {
	for k, val := range meta {
		if _, err := tx.ExecContext(ctx, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", k, val); err != nil {
			return fmt.Errorf("write meta %s: %w", k, classify(err))
		}
	}
	return nil
}

func isNoTable(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrError
}
