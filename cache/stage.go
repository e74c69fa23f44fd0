package cache

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// The base table is written by a snapshot and rewritten by a merge, both in
// key order. Filled in key order one INSERT at a time, SQLite's B-tree
// shares each full page out with its neighbours and leaves pages 88% full;
// the one way to fill them to the brim is a bulk copy of a whole table,
// INSERT INTO t SELECT * FROM u between tables of one shape into an empty
// t (the transfer optimisation VACUUM uses). So the rows go to the stage
// first, a scratch database next to the cache (path + "-stage", attached
// to the writer as "stage", its journal in memory, never synced), and from
// there into the base in one copy, all in the update's or merge's
// transaction: about 24 bytes a key instead of 27.6. The stage is emptied
// (and, auto-vacuumed, truncated) before each commit; one left by a crash
// is deleted when the cache is opened.

// stageSuffix names the stage file after the cache file.
const stageSuffix = "-stage"

// stagePragmas attach the stage to a writer connection.
func stagePragmas(path string) []string {
	return []string{
		"ATTACH DATABASE '" + strings.ReplaceAll(path+stageSuffix, "'", "''") + "' AS stage",
		fmt.Sprintf("PRAGMA stage.page_size = %d", pageSize),
		"PRAGMA stage.auto_vacuum = FULL",
		"PRAGMA stage.journal_mode = MEMORY",
		"PRAGMA stage.synchronous = OFF",
		"PRAGMA stage.cache_size = -16384",
	}
}

// startStage empties the stage and creates its table (the base's shape), in tx.
func startStage(ctx context.Context, tx *sql.Tx) error {
	for _, q := range []string{
		"DROP TABLE IF EXISTS stage.status",
		"CREATE TABLE stage.status(h BLOB PRIMARY KEY, s INTEGER NOT NULL, u INTEGER NOT NULL) WITHOUT ROWID",
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("start the stage: %w", classify(err))
		}
	}
	return nil
}

// fromStage replaces the base table with the stage's rows in one bulk copy
// and empties the stage, in tx. It returns the rows copied.
func fromStage(ctx context.Context, tx *sql.Tx) (int64, error) {
	if _, err := tx.ExecContext(ctx, "DELETE FROM main.status"); err != nil {
		return 0, fmt.Errorf("clear statuses: %w", classify(err))
	}
	r, err := tx.ExecContext(ctx, "INSERT INTO main.status SELECT * FROM stage.status")
	if err != nil {
		return 0, fmt.Errorf("copy statuses from the stage: %w", classify(err))
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, "DROP TABLE stage.status"); err != nil {
		return 0, fmt.Errorf("empty the stage: %w", classify(err))
	}
	return n, nil
}

// rowWriter writes rows through a statement of batchRows rows, and those
// left at flush through a one-row statement: it amortises the driver's cost
// per statement over many rows.
type rowWriter struct {
	ctx  context.Context
	wctx context.Context // ctx without its cancellation: see exec
	many *sql.Stmt
	one  *sql.Stmt
	cols int
	args []any
	keys []byte // copies of the keys of the rows buffered (see key)
	n    int64  // rows written
}

// newRowWriter prepares many (batchRows tuples of cols values) and one (one
// tuple) in tx.
func newRowWriter(ctx context.Context, tx *sql.Tx, many, one string, cols int) (*rowWriter, error) {
	w := &rowWriter{ctx: ctx, wctx: context.WithoutCancel(ctx), cols: cols, args: make([]any, 0, cols*batchRows)}
	var err error
	if w.many, err = tx.PrepareContext(ctx, many); err != nil {
		return nil, classify(err)
	}
	if w.one, err = tx.PrepareContext(ctx, one); err != nil {
		return nil, classify(err)
	}
	return w, nil
}

// tuples returns n comma-separated copies of tuple.
func tuples(tuple string, n int) string {
	return strings.TrimSuffix(strings.Repeat(tuple+",", n), ",")
}

// key copies h for a row about to be added: the caller may reuse h before
// the row is written.
func (w *rowWriter) key(h []byte) []byte {
	if w.keys == nil {
		w.keys = make([]byte, 0, HashSize*batchRows)
	}
	w.keys = append(w.keys, h...)
	return w.keys[len(w.keys)-len(h):]
}

// add buffers one row (cols values) and writes a batch when one is full.
func (w *rowWriter) add(vals ...any) error {
	w.args = append(w.args, vals...)
	if len(w.args) < w.cols*batchRows {
		return nil
	}
	if err := w.exec(w.many, w.args); err != nil {
		return err
	}
	w.n += batchRows
	w.args, w.keys = w.args[:0], w.keys[:0]
	return nil
}

// flush writes the rows buffered.
func (w *rowWriter) flush() error {
	for i := 0; i < len(w.args); i += w.cols {
		if err := w.exec(w.one, w.args[i:i+w.cols]); err != nil {
			return err
		}
		w.n++
	}
	w.args, w.keys = w.args[:0], w.keys[:0]
	return nil
}

// exec runs one statement. The driver gets ctx without its cancellation:
// go-sqlite3 otherwise starts a goroutine per statement to watch it, one per
// batch of a million-row apply. ctx is checked here before each statement
// instead, so a cancelled sync stops within one batch (and database/sql
// still rolls the transaction back when ctx ends).
func (w *rowWriter) exec(st *sql.Stmt, args []any) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	_, err := st.ExecContext(w.wctx, args...)
	return classify(err)
}
