package format

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"checkpoint"
	"checkpoint/cache"
)

// Sites. A site (a factory, a business) publishes the list of the people it
// admits under a delegated targets role of its own, "site-NAME", signed with
// its own key: the authority's targets metadata delegates the paths
// "sites/NAME/*" to that key (terminating, threshold 1). The list is the
// target "sites/NAME/people.bin.gz", a status chunk of kind 'L': keyed
// hashes (under the feed's hash key, as the statuses) with an optional end
// and no status. Its target entry's custom metadata (SiteListInfo) names
// the hash key it was made with.

// MaxSiteList caps the entries of a site list.
const MaxSiteList = 1 << 20

// MaxSiteRole caps a site's role metadata (it lists a few targets).
const MaxSiteRole = 64 << 10

var siteName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// CheckSiteName checks a site's name: 1 to 32 lower-case letters, digits
// and hyphens, not starting with a hyphen.
func CheckSiteName(name string) error {
	if !siteName.MatchString(name) {
		return fmt.Errorf("site name %q: want 1 to 32 of a-z, 0-9 and '-', not starting with '-'", name)
	}
	return nil
}

// SiteRole is the name of the site's delegated targets role.
func SiteRole(name string) string { return "site-" + name }

// SitePattern is the path pattern delegated to the site.
func SitePattern(name string) string { return "sites/" + name + "/*" }

// SiteListTarget is the target of the site's list.
func SiteListTarget(name string) string { return "sites/" + name + "/people.bin.gz" }

// CheckSitePaths checks that every path lies within the site's delegated
// pattern, sites/NAME/FILE: a site publishes nothing else (no statuses,
// revocations, rules, trust list or another site's list).
func CheckSitePaths(name string, paths []string) error {
	prefix := "sites/" + name + "/"
	for _, p := range paths {
		rest, ok := strings.CutPrefix(p, prefix)
		if !ok || rest == "" || strings.Contains(rest, "/") || strings.Contains(p, "..") {
			return fmt.Errorf("site %s may publish only files %s*, not %q", name, prefix, p)
		}
	}
	return nil
}

// KeyID identifies a hash key without revealing it: the first 8 bytes of
// its SHA-256, in hex.
func KeyID(key []byte) string {
	h := sha256.Sum256(key)
	return hex.EncodeToString(h[:8])
}

// SiteListInfo is the custom metadata of a site list's target entry.
type SiteListInfo struct {
	KeyID   string `json:"key_id"` // KeyID of the hash key the list was made with
	Entries int64  `json:"entries"`
}

// ParseSiteListInfo reads a site list target's custom metadata.
func ParseSiteListInfo(raw []byte) (SiteListInfo, error) {
	var i SiteListInfo
	if len(raw) == 0 {
		return i, errors.New("site list: no custom metadata (key_id)")
	}
	if err := json.Unmarshal(raw, &i); err != nil {
		return i, fmt.Errorf("site list custom metadata: %w", err)
	}
	if len(i.KeyID) != 16 || i.Entries < 0 || i.Entries > MaxSiteList {
		return i, errors.New("site list custom metadata: bad key_id or entries")
	}
	return i, nil
}

// EncodeSiteList writes recs (sorted by hash, unique; only Hash and
// ValidUntil count) as a site list.
func EncodeSiteList(recs []cache.Record) ([]byte, error) {
	var b bytes.Buffer
	if err := EncodeChunk(&b, KindList, recs, gzip.BestCompression); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// DecodeSiteList reads a site list, checking every field.
func DecodeSiteList(b []byte) ([]cache.Record, error) {
	recs, err := DecodeChunk(bytes.NewReader(b), KindList, nil, MaxSiteList)
	if err != nil {
		return nil, fmt.Errorf("site list: %w", err)
	}
	return recs, nil
}

// SiteRow is one row of a site's list in clear, with its line.
type SiteRow struct {
	Key   string
	Until int64 // unix seconds; 0: no end
	Line  int
}

// siteHeader is the header a site list file may start with.
const siteHeader = "qid,until (or cccd,until)"

// ParseSiteListCSV reads a site's list: rows `KEY[,until]`, KEY a QID or a
// CCCD number, until as valid_until of the statuses (a date, RFC 3339 or
// empty); an optional header `qid,until` or `cccd,until`; lines read as
// cache.LineReader does. Errors name the line.
func ParseSiteListCSV(r io.Reader) ([]SiteRow, error) {
	lr := cache.NewLineReader(r)
	var out []SiteRow
	for {
		l, err := lr.Next()
		if err == io.EOF {
			if len(out) == 0 {
				return nil, cache.ErrEmpty
			}
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		f := strings.Split(l, ",")
		if k := strings.ToLower(strings.TrimSpace(f[0])); lr.First() && (k == "qid" || k == "cccd") {
			continue
		}
		row, err := parseSiteRow(f)
		if err != nil {
			err = &cache.LineError{Line: lr.Line(), Msg: err.Error()}
			if lr.First() {
				err = cache.HeaderError(lr.Line(), l, siteHeader, err)
			}
			return nil, err
		}
		row.Line = lr.Line()
		if out = append(out, row); len(out) > MaxSiteList {
			return nil, &cache.LineError{Line: lr.Line(), Msg: fmt.Sprintf("more than %d entries", MaxSiteList)}
		}
	}
}

func parseSiteRow(f []string) (SiteRow, error) {
	if len(f) > 2 {
		return SiteRow{}, fmt.Errorf("%d fields, want qid,until (a site list carries no status)", len(f))
	}
	var r SiteRow
	r.Key = strings.TrimSpace(f[0])
	if strings.ContainsRune(r.Key, '"') {
		return SiteRow{}, errors.New("quotes are not allowed")
	}
	if err := cache.CheckKey(r.Key); err != nil {
		return SiteRow{}, err
	}
	if len(f) == 2 {
		if _, err := checkpoint.ParseColor(strings.ToLower(strings.TrimSpace(f[1]))); err == nil {
			return SiteRow{}, errors.New("a site list carries no status: its rows are qid[,until]")
		}
		u, err := cache.ParseValidUntil(strings.TrimSpace(f[1]))
		if err != nil {
			return SiteRow{}, fmt.Errorf("until: %w", err)
		}
		r.Until = u
	}
	return r, nil
}
