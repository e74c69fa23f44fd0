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
CREATE TABLE IF NOT EXISTS status_delta(h BLOB PRIMARY KEY, s INTEGER NOT NULL, u INTEGER NOT NULL) WITHOUT ROWID;
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
// file: a column of the entries, and a key column of the hourly counts
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
	metaDeltaGen = "delta_gen"  // bumped by every commit that changes status_delta (see filter.go)
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
	case err == nil && v.Int64 == 1:
		// Version 1: no delta table yet. Add it and count the base once.
		if _, err := tx.ExecContext(ctx, upgradeEvents+schema); err != nil {
			return fmt.Errorf("upgrade schema 1 to %d: %w", schemaVersion, classify(err))
		}
		var n int64
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM status").Scan(&n); err != nil {
			return fmt.Errorf("upgrade schema 1 to %d: count statuses: %w", schemaVersion, classify(err))
		}
		for k, val := range map[string]any{metaSchema: schemaVersion, metaBaseRows: n, metaDeltaGen: int64(0)} {
			if _, err := tx.ExecContext(ctx, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", k, val); err != nil {
				return fmt.Errorf("upgrade schema 1 to %d: write meta: %w", schemaVersion, classify(err))
			}
		}
	case err == nil && v.Int64 == 2:
		// Version 2: no site table, no direction in the event log.
		if _, err := tx.ExecContext(ctx, upgradeEvents+schema); err != nil {
			return fmt.Errorf("upgrade schema 2 to %d: %w", schemaVersion, classify(err))
		}
		if _, err := tx.ExecContext(ctx, "UPDATE meta SET v = ? WHERE k = ?", schemaVersion, metaSchema); err != nil {
			return fmt.Errorf("upgrade schema 2 to %d: write meta: %w", schemaVersion, classify(err))
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
		for k, val := range map[string]any{metaSchema: schemaVersion, metaKey: key, metaKeyFrom: "local", metaDeltaGen: int64(0)} {
			if _, err := tx.ExecContext(ctx, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", k, val); err != nil {
				return fmt.Errorf("write meta: %w", classify(err))
			}
		}
	default:
		return classify(err)
	}
	return classify(tx.Commit())
}

func isNoTable(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrError
}
