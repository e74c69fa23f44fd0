package cache

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"checkpoint"
)

// TestDowngrade: a file of schema 5 is rewritten in schema 4's layout, each
// run's rows in status_run as a release before blocks wrote them (a
// removal, a key in two runs, a damaged status kept as they are); a second
// Downgrade changes nothing; this build opens the file again and answers
// as before; a schema it does not know is refused.
func TestDowngrade(t *testing.T) {
	ctx := context.Background()
	path, d := fileOf50(t)
	rec := func(k string, c checkpoint.Color, until int64) Record {
		return Record{Hash: d.Hash(k), Color: c, ValidUntil: until}
	}
	apply(t, d, []Record{rec("K1", checkpoint.Red, 5), {Hash: d.Hash("K2"), Delete: true}, rec("NEW", checkpoint.Yellow, 1640970000)})
	apply(t, d, []Record{rec("K1", checkpoint.Yellow, 0), rec("K3", checkpoint.Red, 0)})
	ws := map[string]want{"K1": {true, checkpoint.Yellow, 0}, "K2": {}, "K3": {true, checkpoint.Red, 0}, "NEW": {true, checkpoint.Yellow, 1640970000}}
	check(t, d, 50, ws)
	d.Close()

	changed, err := Downgrade(ctx, path)
	if err != nil || !changed {
		t.Fatalf("Downgrade = %v, %v; want the file rewritten", changed, err)
	}
	raw, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var v, rows, blocks int64
	var s int64
	k1 := d.Hash("K1")
	for _, q := range []struct {
		dst *int64
		q   string
	}{
		{&v, "SELECT v FROM meta WHERE k = 'schema'"},
		{&rows, "SELECT count(*) FROM status_run"},
		{&blocks, "SELECT count(*) FROM sqlite_schema WHERE name = 'status_block'"},
		{&s, fmt.Sprintf("SELECT s FROM status_run WHERE h = x'%x' ORDER BY g DESC LIMIT 1", k1)},
	} {
		if err := raw.QueryRow(q.q).Scan(q.dst); err != nil {
			t.Fatal(q.q, err)
		}
	}
	raw.Close()
	if v != 4 || rows != 5 || blocks != 0 || s != int64(checkpoint.Yellow) {
		t.Fatalf("after the downgrade: schema %d, %d run rows, %d block tables, K1's newest status %d", v, rows, blocks, s)
	}
	if changed, err := Downgrade(ctx, path); err != nil || changed {
		t.Fatalf("a second Downgrade = %v, %v; want nothing to do", changed, err)
	}

	d, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, d, 50, ws)
	checkWithoutFilter(t, d, ws)
	d.Close()
	rawExec(t, path, "UPDATE meta SET v = 6 WHERE k = 'schema'")
	if _, err := Downgrade(ctx, path); err == nil {
		t.Fatal("a file of schema 6 was downgraded")
	}
}
