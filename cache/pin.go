package cache

import (
	"context"
	"database/sql"
	"sync"
)

// A lookup is one read transaction, and in WAL mode each read transaction
// takes a shared lock on a slot of the -shm file and gives it back: two
// fcntl system calls, a quarter of a lookup's time. SQLite counts the
// shared locks the connections of one process hold on each slot and calls
// fcntl only for the first and the last, so a read transaction kept open
// on a connection of its own (the pin) makes every lookup's lock a counter
// update.
//
// A reader that sees the whole WAL copied back takes slot 0 and reads the
// database file alone; while any reader holds slot 0 no checkpoint can copy
// frames into the file. The pin is therefore taken only right after a
// checkpoint, and the checkpointer lets go of it before each checkpoint
// (woken by every commit of this process, and by a lookup that sees
// another process's commit). A WAL left by another process's writes waits
// for this process's next checkpoint; the WAL is restarted as before, since
// restarting needs only the slots readers of the WAL use.

// readPin holds (or not) one read transaction on its own connection.
type readPin struct {
	mu sync.Mutex
	db *sql.DB
	tx *sql.Tx // nil while released
}

func newReadPin(c *connector) *readPin {
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	return &readPin{db: db}
}

// hold opens the read transaction unless it is open. A failure leaves the
// pin released: lookups then pay for their locks, nothing else changes.
func (p *readPin) hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tx != nil || p.db == nil {
		return
	}
	tx, err := p.db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return
	}
	var one int
	if err := tx.QueryRow("SELECT 1 FROM meta LIMIT 1").Scan(&one); err != nil && err != sql.ErrNoRows {
		tx.Rollback()
		return
	}
	p.tx = tx
}

// release ends the read transaction, if open.
func (p *readPin) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tx != nil {
		p.tx.Rollback()
		p.tx = nil
	}
}

// close releases the pin for good.
func (p *readPin) close() error {
	p.release()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.db == nil {
		return nil
	}
	err := p.db.Close()
	p.db = nil
	return err
}

// checkpoint runs one wal_checkpoint with the pin released, then takes it
// again.
func (d *DB) checkpoint(ctx context.Context, mode string) error {
	d.pin.release()
	defer d.pin.hold()
	_, err := d.ck.ExecContext(ctx, "PRAGMA wal_checkpoint("+mode+")")
	return err
}
