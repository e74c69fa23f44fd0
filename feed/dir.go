package feed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// dirURL is the base URL go-tuf is given for a directory: the dirFetcher
// maps what follows it to a file in the directory.
const dirURL = "file:///"

// dirFetcher implements go-tuf's fetcher.Fetcher over a copy of the
// repository in a directory (a USB stick's feed/ folder, written by `feed
// export`): the same updater, the same checks, only the files come from
// the directory. Names resolve inside it only (os.Root: no "..", no
// symbolic link out of it); anything but a regular file is refused, and a
// file that is not there answers as a 404 does, which ends go-tuf's walk
// of the root versions.
type dirFetcher struct {
	ctx      context.Context
	root     *os.Root
	deadline time.Duration // for the whole read of one file
	bytes    atomic.Int64
	opening  func(name string) // test hook: runs before each file is opened
}

func openDir(ctx context.Context, dir string, deadline time.Duration, opening func(string)) (*dirFetcher, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, &metadata.ErrDownload{Msg: fmt.Sprintf("open the feed folder: %v", err)}
	}
	return &dirFetcher{ctx: ctx, root: root, deadline: deadline, opening: opening}, nil
}

func (f *dirFetcher) url() string       { return dirURL }
func (f *dirFetcher) downloaded() int64 { return f.bytes.Load() }
func (f *dirFetcher) close()            { f.root.Close() }

// DownloadFile reads the file url names, at most maxLength bytes.
func (f *dirFetcher) DownloadFile(url string, maxLength int64, _ time.Duration) ([]byte, error) {
	name, ok := strings.CutPrefix(url, dirURL)
	if !ok {
		return nil, &metadata.ErrDownload{Msg: fmt.Sprintf("%s is not in the feed folder", url)}
	}
	if f.opening != nil {
		f.opening(name)
	}
	// O_NONBLOCK: opening a FIFO planted on a stick must not wait for a writer.
	file, err := f.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &metadata.ErrDownloadHTTP{StatusCode: 404, URL: name}
	}
	if err != nil {
		return nil, &metadata.ErrDownload{Msg: fmt.Sprintf("%s: %v", name, err)}
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, &metadata.ErrDownload{Msg: fmt.Sprintf("%s is not a regular file", name)}
	}
	if fi.Size() > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is %d bytes, more than the %d expected", name, fi.Size(), maxLength)}
	}
	end := time.Now().Add(f.deadline)
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()))
	p := make([]byte, 64<<10)
	lr := io.LimitReader(file, maxLength+1)
	for {
		if err := f.ctx.Err(); err != nil {
			return nil, err
		}
		if time.Now().After(end) {
			return nil, &timeoutError{url: name, d: f.deadline, whole: true}
		}
		n, err := lr.Read(p)
		buf.Write(p[:n])
		f.bytes.Add(int64(n))
		if err == io.EOF {
			break
		}
		if err != nil {
			// A stick pulled out mid-read: EIO or ENODEV.
			return nil, &metadata.ErrDownload{Msg: fmt.Sprintf("%s: %v", name, err)}
		}
	}
	if int64(buf.Len()) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is more than the %d bytes expected", name, maxLength)}
	}
	return buf.Bytes(), nil
}
