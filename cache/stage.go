package cache

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// The base table is written by a snapshot and rewritten by a merge, both in
// key order. Filled in key order one INSERT at a time, SQLite's B-tree
// shares each full page out with its neighbours and leaves pages 88% full;
// the one way to fill them to the brim is a bulk copy of a whole table,
// INSERT INTO t SELECT * FROM u between tables of one shape into an empty
// t (the transfer optimisation VACUUM uses). So the rows go to the stage
// first, a scratch database next to the cache (path + "-stage-PID-N", one
// for each open of the cache, attached to its writer as "stage", its
// journal in memory, never synced), and from
// there into the base in one copy, all in the update's or merge's
// transaction: about 24 bytes a key instead of 27.6. The stage is emptied
// (and, auto-vacuumed, truncated) before each commit, and removed by Close;
// one left by a process that is gone is deleted when the cache is opened.
// One shared file replaced by every open broke the writes of a daemon
// whose cache another command opened meanwhile.

// stageSuffix names the stage files after the cache file.
const stageSuffix = "-stage"

// stageSeq numbers this process's opens.
var stageSeq atomic.Int64

// newStage makes this open's stage file, private like the cache, and
// removes those of processes no longer running (and the shared one of
// older versions); it returns the file's path.
func newStage(path string) (string, error) {
	old, _ := filepath.Glob(globEscape(path+stageSuffix) + "*")
	for _, p := range old {
		if !stageLive(strings.TrimPrefix(p, path+stageSuffix)) {
			os.Remove(p)
		}
	}
	p := fmt.Sprintf("%s%s-%d-%d", path, stageSuffix, os.Getpid(), stageSeq.Add(1))
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	return p, f.Close()
}

// stageLive reports whether a stage file's name suffix ("-PID-N") names a
// running process.
func stageLive(suffix string) bool {
	var pid, n int
	if _, err := fmt.Sscanf(suffix, "-%d-%d", &pid, &n); err != nil || pid <= 0 {
		return false
	}
	return pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH
}

// globEscape quotes the characters filepath.Match treats as patterns.
func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`)
	return r.Replace(s)
}

// stagePragmas attach the stage file to a writer connection.
func stagePragmas(stage string) []string {
	return []string{
		"ATTACH DATABASE '" + strings.ReplaceAll(stage, "'", "''") + "' AS stage",
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
// per statement over many rows. It runs on the writer's connection itself
// (the update's transaction holds it): database/sql's conversion of each
// argument, and boxing each key, were a third of the cost of a row.
type rowWriter struct {
	ctx   context.Context
	sc    *sqlite3.SQLiteConn
	many  driver.Stmt
	one   driver.Stmt
	cols  int
	rows  int                 // rows buffered
	args  []driver.NamedValue // cols*batchRows, ordinals set once
	args1 []driver.NamedValue // one row's
	keys  []byte              // the buffered rows' keys: args of key columns point here
	n     int64               // rows written
}

// newRowWriter prepares many (batchRows tuples of cols values, the first a
// key) and one (one tuple) on the writer connection sc.
func newRowWriter(ctx context.Context, sc *sqlite3.SQLiteConn, many, one string, cols int) (*rowWriter, error) {
	w := &rowWriter{ctx: ctx, sc: sc, cols: cols, args: make([]driver.NamedValue, cols*batchRows),
		args1: make([]driver.NamedValue, cols), keys: make([]byte, HashSize*batchRows)}
	for i := range w.args {
		w.args[i].Ordinal = i + 1
		if i%cols == 0 {
			r := i / cols
			w.args[i].Value = w.keys[r*HashSize : (r+1)*HashSize : (r+1)*HashSize] // boxed once
		}
	}
	for i := range w.args1 {
		w.args1[i].Ordinal = i + 1
	}
	var err error
	if w.many, err = sc.Prepare(many); err != nil {
		return nil, classify(err)
	}
	if w.one, err = sc.Prepare(one); err != nil {
		w.many.Close()
		return nil, classify(err)
	}
	return w, nil
}

// tuples returns n comma-separated copies of tuple.
func tuples(tuple string, n int) string {
	return strings.TrimSuffix(strings.Repeat(tuple+",", n), ",")
}

// add buffers one row, its key (HashSize bytes, copied) and the other
// cols-1 values, and writes a batch when one is full.
func (w *rowWriter) add(h []byte, vals ...int64) error {
	base := w.rows * w.cols
	copy(w.keys[w.rows*HashSize:], h)
	for i, v := range vals {
		w.args[base+1+i].Value = v
	}
	if w.rows++; w.rows < batchRows {
		return nil
	}
	if err := w.exec(w.many, w.args); err != nil {
		return err
	}
	w.n += batchRows
	w.rows = 0
	return nil
}

// flush writes the rows buffered.
func (w *rowWriter) flush() error {
	for r := range w.rows {
		for c := range w.cols {
			w.args1[c].Value = w.args[r*w.cols+c].Value
		}
		if err := w.exec(w.one, w.args1); err != nil {
			return err
		}
		w.n++
	}
	w.rows = 0
	return nil
}

// close releases the statements.
func (w *rowWriter) close() {
	w.many.Close()
	w.one.Close()
}

// exec runs one statement, without a cancellation watcher (go-sqlite3
// would start one per statement, one per batch of a million-row apply):
// ctx is checked here before each statement, so a cancelled sync stops
// within one batch.
//
// It runs as a query: go-sqlite3 binds a query's arguments and takes its
// first step in one call into C, an Exec's with one call per argument.
func (w *rowWriter) exec(st driver.Stmt, args []driver.NamedValue) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if w.sc.AutoCommit() {
		// SQLite rolled the transaction back (after a full disk, say):
		// this row would be written on its own.
		return errors.New("the update's transaction has ended")
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(context.Background(), args)
	if err != nil {
		return classify(err)
	}
	return classify(rows.Close())
}
