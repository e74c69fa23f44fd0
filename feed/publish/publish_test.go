package publish_test

import (
	"checkpoint/clocktest"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"checkpoint/cache"
	"checkpoint/feed/publish"
)

func TestPublishBadInput(t *testing.T) {
	dir := t.TempDir()
	clk := clocktest.New(time.Date(2021, 10, 1, 8, 0, 0, 0, time.UTC))
	if err := publish.Init(dir, publish.InitOptions{Clock: clk}); err != nil {
		t.Fatal(err)
	}
	opts := publish.Options{Clock: clk}
	if _, err := publish.Publish(context.Background(), dir, publish.Inputs{Statuses: strings.NewReader("A,green,\n")}, opts); err != nil {
		t.Fatal(err)
	}
	before := snapshotDir(t, filepath.Join(dir, "repo"))
	for _, tt := range []struct {
		name string
		in   publish.Inputs
		want string
	}{
		{"bad status", publish.Inputs{Statuses: strings.NewReader("A,green,\nB,blue,\n")}, "line 2: status"},
		{"repeat", publish.Inputs{Statuses: strings.NewReader("A,green,\nB,red,\nA,red,\n")}, "line 3: qid repeats line 1"},
		{"empty", publish.Inputs{Statuses: strings.NewReader("")}, "no rows"},
		{"truncated", publish.Inputs{Statuses: strings.NewReader("A,green,\nB,gr")}, "line 2: last line"},
		{"bad revocation", publish.Inputs{Statuses: strings.NewReader("A,green,\n"), Revocations: strings.NewReader("UCI,abcd\n")}, "line 1: hash is not"},
		{"bad hash type", publish.Inputs{Statuses: strings.NewReader("A,green,\n"), Revocations: strings.NewReader("UCI," + strings.Repeat("ab", 32) + "\nKID,00\n")}, "line 2: unknown revocation hash type"},
		{"bad trust list", publish.Inputs{Statuses: strings.NewReader("A,green,\n"), TrustList: strings.NewReader("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}, "trust list block 1"},
		{"empty trust list", publish.Inputs{Statuses: strings.NewReader("A,green,\n"), TrustList: strings.NewReader("")}, "no certificates"},
		{"bad rules", publish.Inputs{Statuses: strings.NewReader("A,green,\n"), Rules: strings.NewReader("{")}, "not valid JSON"},
		{"big rules", publish.Inputs{Statuses: strings.NewReader("A,green,\n"), Rules: strings.NewReader(`"` + strings.Repeat("x", cache.MaxRules) + `"`)}, "at most"},
	} {
		_, err := publish.Publish(context.Background(), dir, tt.in, opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	if after := snapshotDir(t, filepath.Join(dir, "repo")); after != before {
		t.Error("a failed publish changed the served files")
	}
	if err := publish.Init(dir, publish.InitOptions{}); err == nil {
		t.Error("init over an existing feed succeeded")
	}
	for _, k := range publish.Roles {
		st, err := os.Stat(filepath.Join(dir, "keys", k+".pem"))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s key: %v %v", k, st.Mode(), err)
		}
	}
}

// snapshotDir lists a tree's files with their sizes and hashes.
func snapshotDir(t *testing.T, dir string) string {
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, _ := os.ReadFile(p)
		fmt.Fprintf(&b, "%s %x\n", p, sha256.Sum256(data))
		return nil
	})
	return b.String()
}

// A status file that lost most of its rows is refused unless the shrink is
// allowed (issue 16 item 14).
func TestPublishRefusesShrink(t *testing.T) {
	dir := t.TempDir()
	clk := clocktest.New(time.Date(2021, 10, 1, 8, 0, 0, 0, time.UTC))
	if err := publish.Init(dir, publish.InitOptions{Clock: clk}); err != nil {
		t.Fatal(err)
	}
	opts := publish.Options{Clock: clk}
	rows := func(n int) *strings.Reader {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "Q%d,green,\n", i)
		}
		return strings.NewReader(b.String())
	}
	ctx := context.Background()
	if _, err := publish.Publish(ctx, dir, publish.Inputs{Statuses: rows(100)}, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := publish.Publish(ctx, dir, publish.Inputs{Statuses: rows(80)}, opts); err != nil {
		t.Errorf("removing 20%%: %v", err)
	}
	before := snapshotDir(t, filepath.Join(dir, "repo"))
	_, err := publish.Publish(ctx, dir, publish.Inputs{Statuses: rows(10)}, opts)
	if err == nil || !strings.Contains(err.Error(), "removes 70 of the 80") || !strings.Contains(err.Error(), "--allow-shrink") {
		t.Fatalf("removing 88%%: %v, want a refusal naming the counts and --allow-shrink", err)
	}
	if snapshotDir(t, filepath.Join(dir, "repo")) != before {
		t.Error("a refused publish changed the served files")
	}
	opts.AllowShrink = true
	if m, err := publish.Publish(ctx, dir, publish.Inputs{Statuses: rows(10)}, opts); err != nil || m.Statuses != 10 {
		t.Errorf("allowed shrink: %v", err)
	}
}

// TestPublishSpreadsheetCSV: status and revocation files saved by Excel or
// LibreOffice ("CSV UTF-8": a byte order mark, CRLF) publish; a header the
// publisher does not know is named as a header.
func TestPublishSpreadsheetCSV(t *testing.T) {
	dir := t.TempDir()
	if err := publish.Init(dir, publish.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	in := publish.Inputs{
		Statuses:    strings.NewReader("\ufeffqid,status,valid_until\r\nA,green,\r\nB,red,\r\n"),
		Revocations: strings.NewReader("\ufeffhashtype,hash\r\nUCI," + strings.Repeat("ab", 32) + "\r\n"),
	}
	m, err := publish.Publish(context.Background(), dir, in, publish.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Statuses != 2 || m.Revocations == "" {
		t.Errorf("published %d statuses, revocations %q", m.Statuses, m.Revocations)
	}
	for _, tt := range []struct {
		in   publish.Inputs
		want string
	}{
		{publish.Inputs{Statuses: strings.NewReader("\ufeffma_qr,trang_thai\r\nA,green\r\n")}, `statuses: line 1: header "ma_qr,trang_thai" not recognised`},
		{publish.Inputs{Statuses: strings.NewReader("A,green,\n"), Revocations: strings.NewReader("\ufeffloai,ma\nUCI," + strings.Repeat("ab", 32) + "\n")},
			`revocations: line 1: header "loai,ma" not recognised: want hashtype,hash`},
	} {
		if _, err := publish.Publish(context.Background(), dir, tt.in, publish.Options{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Publish: %v, want %q", err, tt.want)
		}
	}
}
