// Package publish is the authority's side of the status feed: it builds and
// signs a TUF repository of static files with go-tuf v2, which gates fetch
// and verify with package feed. Both read and write the targets through
// package format.
//
// A feed directory holds three folders:
//
//	keys/   the ed25519 signing keys of the four TUF roles (mode 0600; never serve)
//	state/  the hash key and the last published status set (never serve)
//	repo/   the static files to serve: N.root.json, N.targets.json,
//	        N.snapshot.json, timestamp.json and targets/ (consistent snapshots:
//	        every target is named by its SHA-256, so nothing is overwritten)
//
// The target "manifest.json" (see format.Manifest) names, for the newest
// version, the chunks of the full snapshot, the deltas of the last versions,
// the revocation list, the trust list and the rule profile.
package publish

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"checkpoint"
	"checkpoint/cache"
	"checkpoint/feed/format"
	"checkpoint/internal/atomicfile"
)

// Defaults for publishing.
const (
	DefaultTimestampExpiry = 24 * time.Hour
	DefaultRootExpiry      = 365 * 24 * time.Hour
	DefaultKeepDeltas      = 14
	DefaultChunkRecords    = 1 << 20
)

// Roles are the four top-level TUF roles, each with its key in keys/ROLE.pem.
var Roles = []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP}

// onlineRoles are the keys publish and refresh sign with. The root key is
// only needed by init, so it can be moved offline (off the publishing
// machine) once the repository exists.
var onlineRoles = []string{metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP}

// InitOptions tune Init.
type InitOptions struct {
	Clock      checkpoint.Clock // SystemClock when nil
	RootExpiry time.Duration    // DefaultRootExpiry when zero
}

// Init creates a new feed in dir (which must not hold one): a signing key per
// TUF role, the hash key, and root metadata (repo/1.root.json, also copied to
// repo/root.json for provisioning gates).
func Init(dir string, opts InitOptions) error {
	if opts.Clock == nil {
		opts.Clock = checkpoint.SystemClock{}
	}
	if opts.RootExpiry <= 0 {
		opts.RootExpiry = DefaultRootExpiry
	}
	if _, err := os.Stat(filepath.Join(dir, "keys")); err == nil {
		return fmt.Errorf("init feed %s: already holds a feed (keys/ exists)", dir)
	}
	for _, d := range []string{"keys", "state", "repo/targets"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("init feed %s: %w", dir, err)
		}
	}
	os.Chmod(filepath.Join(dir, "keys"), 0o700)
	os.Chmod(filepath.Join(dir, "state"), 0o700)
	root := metadata.Root(opts.Clock.Now().UTC().Add(opts.RootExpiry))
	root.Signed.ConsistentSnapshot = true
	keys := map[string]ed25519.PrivateKey{}
	for _, role := range Roles {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		keys[role] = priv
		k, err := metadata.KeyFromPublicKey(priv.Public())
		if err != nil {
			return err
		}
		if err := root.Signed.AddKey(k, role); err != nil {
			return err
		}
		if err := writeKey(filepath.Join(dir, "keys", role+".pem"), priv); err != nil {
			return fmt.Errorf("init feed %s: %w", dir, err)
		}
	}
	hk := make([]byte, cache.KeySize)
	if _, err := rand.Read(hk); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "state", "hashkey"), []byte(hex.EncodeToString(hk)+"\n"), 0o600); err != nil {
		return fmt.Errorf("init feed %s: %w", dir, err)
	}
	if err := Sign(root, keys[metadata.ROOT]); err != nil {
		return err
	}
	b, err := root.ToBytes(true)
	if err != nil {
		return err
	}
	for _, name := range []string{"1.root.json", "root.json"} {
		if err := atomicfile.Write(filepath.Join(dir, "repo", name), b, 0o644); err != nil {
			return fmt.Errorf("init feed %s: %w", dir, err)
		}
	}
	return nil
}

func writeKey(name string, k ed25519.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	return atomicfile.Write(name, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// ReadKey reads an ed25519 signing key written by Init.
func ReadKey(name string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM private key", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an ed25519 key", name)
	}
	return ek, nil
}

// Sign replaces the signatures of m with one by k.
func Sign[T metadata.Roles](m *metadata.Metadata[T], k ed25519.PrivateKey) error {
	s, err := signature.LoadSigner(k, crypto.Hash(0))
	if err != nil {
		return err
	}
	m.ClearSignatures()
	if _, err := m.Sign(s); err != nil {
		return fmt.Errorf("sign metadata: %w", err)
	}
	return nil
}

// Inputs are the files of one publish. Statuses is required (but by a publish
// of firmware alone, which keeps the set published before); a nil side
// input keeps the previous version's.
type Inputs struct {
	Statuses    io.Reader // CSV qid,status,valid_until (see cache.CSVReader)
	Revocations io.Reader // CSV hashtype,hash
	TrustList   io.Reader // PEM bundle of DSC certificates
	Rules       io.Reader // JSON rule profile, at most cache.MaxRules bytes
}

// Options tune Publish.
type Options struct {
	Clock           checkpoint.Clock // SystemClock when nil
	TimestampExpiry time.Duration    // DefaultTimestampExpiry when zero
	// MetadataExpiry is the lifetime of the targets and snapshot metadata
	// (seven days or TimestampExpiry, the longer, when zero).
	MetadataExpiry time.Duration
	KeepDeltas     int // deltas listed in the manifest (DefaultKeepDeltas when zero)
	ChunkRecords   int // records per status chunk (DefaultChunkRecords when zero)
	// Progress, when set, is called while large inputs are read and written.
	Progress func(stage string, done int64)
	// AllowShrink lets a publish remove more than MaxShrink of the
	// statuses published before; without it such a publish is refused, as a
	// status file that lost most of its rows (a truncated export) would
	// otherwise silently remove them from every gate.
	AllowShrink bool
	// Warn, when set, is told what the operator should know of a publish
	// that went through (a site's expired list).
	Warn func(msg string)
	// Firmware, when set, publishes a firmware package or changes the
	// current one's rollout; nil keeps the feed's firmware as it is.
	Firmware *Firmware
}

// MaxShrink is the share of the published statuses a publish may remove
// without Options.AllowShrink; removing at most minShrink rows is always
// allowed (a small test feed).
const (
	MaxShrink = 0.25
	minShrink = 10
)

func (o *Options) defaults() {
	if o.Clock == nil {
		o.Clock = checkpoint.SystemClock{}
	}
	if o.TimestampExpiry <= 0 {
		o.TimestampExpiry = DefaultTimestampExpiry
	}
	if o.MetadataExpiry <= 0 {
		o.MetadataExpiry = max(7*24*time.Hour, o.TimestampExpiry)
	}
	if o.KeepDeltas <= 0 {
		o.KeepDeltas = DefaultKeepDeltas
	}
	if o.ChunkRecords <= 0 {
		o.ChunkRecords = DefaultChunkRecords
	}
	if o.ChunkRecords > format.MaxChunkRecords {
		o.ChunkRecords = format.MaxChunkRecords
	}
	if o.Progress == nil {
		o.Progress = func(string, int64) {}
	}
	if o.Warn == nil {
		o.Warn = func(string) {}
	}
}

// repo is a feed directory opened for publishing.
type repo struct {
	dir       string
	keys      map[string]ed25519.PrivateKey
	hashKey   []byte
	root      *metadata.Metadata[metadata.RootType]
	targets   *metadata.Metadata[metadata.TargetsType]   // nil before the first publish
	snapshot  *metadata.Metadata[metadata.SnapshotType]  // nil before the first publish
	timestamp *metadata.Metadata[metadata.TimestampType] // nil before the first publish
	manifest  *format.Manifest                           // nil before the first publish
	// delegations are the sites' delegations the targets metadata carries
	// (state/delegations.json; nil: no site).
	delegations *metadata.Delegations
}

func openRepo(dir string) (*repo, error) {
	r := &repo{dir: dir, keys: map[string]ed25519.PrivateKey{}}
	for _, role := range onlineRoles {
		k, err := ReadKey(filepath.Join(dir, "keys", role+".pem"))
		if err != nil {
			return nil, fmt.Errorf("read %s key (run feed init first?): %w", role, err)
		}
		r.keys[role] = k
	}
	b, err := os.ReadFile(filepath.Join(dir, "state", "hashkey"))
	if err != nil {
		return nil, fmt.Errorf("read hash key: %w", err)
	}
	if r.hashKey, err = hex.DecodeString(strings.TrimSpace(string(b))); err != nil || len(r.hashKey) != cache.KeySize {
		return nil, errors.New("state/hashkey is not 32 bytes of hex")
	}
	if r.delegations, err = readDelegations(dir); err != nil {
		return nil, err
	}
	// The newest root: the highest N.root.json.
	for v := 1; ; v++ {
		b, err := os.ReadFile(r.meta(fmt.Sprintf("%d.root.json", v)))
		if errors.Is(err, os.ErrNotExist) && v > 1 {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read root metadata: %w", err)
		}
		if r.root, err = metadata.Root().FromBytes(b); err != nil {
			return nil, fmt.Errorf("read %d.root.json: %w", v, err)
		}
	}
	b, err = os.ReadFile(r.meta("timestamp.json"))
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	if r.timestamp, err = metadata.Timestamp().FromBytes(b); err != nil {
		return nil, fmt.Errorf("read timestamp.json: %w", err)
	}
	sv := r.timestamp.Signed.Meta["snapshot.json"].Version
	if b, err = os.ReadFile(r.meta(fmt.Sprintf("%d.snapshot.json", sv))); err != nil {
		return nil, err
	}
	if r.snapshot, err = metadata.Snapshot().FromBytes(b); err != nil {
		return nil, fmt.Errorf("read snapshot metadata: %w", err)
	}
	tv := r.snapshot.Signed.Meta["targets.json"].Version
	if b, err = os.ReadFile(r.meta(fmt.Sprintf("%d.targets.json", tv))); err != nil {
		return nil, err
	}
	if r.targets, err = metadata.Targets().FromBytes(b); err != nil {
		return nil, fmt.Errorf("read targets metadata: %w", err)
	}
	if b, err = os.ReadFile(filepath.Join(dir, "state", "manifest.json")); err != nil {
		return nil, fmt.Errorf("read state/manifest.json: %w", err)
	}
	if r.manifest, err = format.ParseManifest(b); err != nil {
		return nil, fmt.Errorf("state/manifest.json: %w", err)
	}
	return r, nil
}

func (r *repo) meta(name string) string { return filepath.Join(r.dir, "repo", name) }

// pubRec is a status row on the publishing side, with its input line.
type pubRec struct {
	hash  [cache.HashSize]byte
	until int64
	line  int32
	color checkpoint.Color
}

// Publish reads the inputs, computes the delta against the last published
// version and publishes a new version: status chunks, the delta, the side
// files, the manifest, and signed targets, snapshot and timestamp metadata.
// Every input is checked before anything is written: on a bad row the error
// names its line and nothing is published.
func Publish(ctx context.Context, dir string, in Inputs, opts Options) (*format.Manifest, error) {
	opts.defaults()
	r, err := openRepo(dir)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", dir, err)
	}
	prev, err := readState(dir)
	if err != nil {
		return nil, fmt.Errorf("publish: previous status set: %w", err)
	}
	recs, err := statuses(ctx, in.Statuses, prev, r, opts)
	if err != nil {
		return nil, err
	}
	side := map[string][]byte{}
	if in.Revocations != nil {
		list, err := format.ParseRevocationsCSV(in.Revocations)
		if err != nil {
			return nil, fmt.Errorf("publish: revocations: %w", err)
		}
		slices.SortFunc(list, func(a, b cache.Revocation) int {
			return cmp.Or(cmp.Compare(a.Type, b.Type), bytes.Compare(a.Hash[:], b.Hash[:]))
		})
		list = slices.Compact(list)
		if side["revocations.bin.gz"], err = format.EncodeRevocations(list); err != nil {
			return nil, err
		}
	}
	if in.TrustList != nil {
		b, err := io.ReadAll(io.LimitReader(in.TrustList, format.MaxTrustList+1))
		if err != nil {
			return nil, fmt.Errorf("publish: trust list: %w", err)
		}
		if _, err := format.ParseTrustList(b); err != nil {
			return nil, fmt.Errorf("publish: %w", err)
		}
		side["trustlist.pem"] = b
	}
	if in.Rules != nil {
		b, err := io.ReadAll(io.LimitReader(in.Rules, cache.MaxRules+1))
		if err != nil {
			return nil, fmt.Errorf("publish: rules: %w", err)
		}
		if err := format.CheckRules(b); err != nil {
			return nil, fmt.Errorf("publish: %w", err)
		}
		side["rules.json"] = b
	}
	if err := checkShrink(prev, recs, opts.AllowShrink); err != nil {
		return nil, err
	}
	return r.publish(ctx, recs, prev, side, opts)
}

// statuses reads the status file, or without one (a publish of firmware
// alone) takes the set published before.
func statuses(ctx context.Context, in io.Reader, prev []cache.Record, r *repo, opts Options) ([]pubRec, error) {
	if in != nil {
		recs, err := readStatuses(ctx, in, r.hashKey, len(prev), opts.Progress)
		if err != nil {
			return nil, fmt.Errorf("publish: statuses: %w", err)
		}
		return recs, nil
	}
	if opts.Firmware == nil || r.manifest == nil {
		return nil, errors.New("publish: no status file (only a firmware publish may leave it out, once a status set was published)")
	}
	recs := make([]pubRec, len(prev))
	for i, p := range prev {
		recs[i] = pubRec{hash: p.Hash, until: p.ValidUntil, color: p.Color, line: int32(i + 1)}
	}
	return recs, nil
}

// checkShrink refuses a status set that removes more than MaxShrink of the
// previous one, unless allowed. Both are sorted by hash.
func checkShrink(prev []cache.Record, next []pubRec, allow bool) error {
	if allow || len(prev) == 0 {
		return nil
	}
	kept, j := 0, 0
	for _, p := range prev {
		for j < len(next) && bytes.Compare(next[j].hash[:], p.Hash[:]) < 0 {
			j++
		}
		if j < len(next) && next[j].hash == p.Hash {
			kept++
		}
	}
	removed := len(prev) - kept
	if removed > minShrink && float64(removed) > MaxShrink*float64(len(prev)) {
		return fmt.Errorf("publish refused: the status file removes %d of the %d statuses published before (%.0f%%, more than %.0f%%); check the file is complete, or pass --allow-shrink",
			removed, len(prev), 100*float64(removed)/float64(len(prev)), 100*MaxShrink)
	}
	return nil
}

// readStatuses reads, hashes, sorts and checks the status CSV; about hint
// rows are expected (the previous set's size), so that a national set is
// not copied as it grows.
func readStatuses(ctx context.Context, rd io.Reader, key []byte, hint int, progress func(string, int64)) ([]pubRec, error) {
	cr := cache.NewCSVReader(rd)
	recs := make([]pubRec, 0, hint+hint/32)
	for {
		row, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(recs)%(1<<20) == 0 && len(recs) > 0 {
			progress("read", int64(len(recs)))
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(row.Key))
		var p pubRec
		copy(p.hash[:], m.Sum(nil))
		p.until, p.line, p.color = row.ValidUntil, int32(cr.Line()), row.Color
		recs = append(recs, p)
	}
	progress("read", int64(len(recs)))
	slices.SortFunc(recs, func(a, b pubRec) int {
		return cmp.Or(bytes.Compare(a.hash[:], b.hash[:]), cmp.Compare(a.line, b.line))
	})
	for i := 1; i < len(recs); i++ {
		if recs[i].hash == recs[i-1].hash {
			return nil, &cache.LineError{Line: int(recs[i].line), Msg: fmt.Sprintf("qid repeats line %d", recs[i-1].line)}
		}
	}
	return recs, nil
}

// statePath is the last published full status set.
func statePath(dir string) string { return filepath.Join(dir, "state", "statuses.bin.gz") }

func readState(dir string) ([]cache.Record, error) {
	f, err := os.Open(statePath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return format.DecodeChunk(f, format.KindSnapshot, nil, 1<<40)
}

func (r *repo) publish(ctx context.Context, recs []pubRec, prev []cache.Record, side map[string][]byte, opts Options) (*format.Manifest, error) {
	now := opts.Clock.Now().UTC()
	version := int64(1)
	if r.manifest != nil {
		version = r.manifest.Version + 1
	}
	full := make([]cache.Record, len(recs))
	for i, p := range recs {
		full[i] = cache.Record{Hash: p.hash, Color: p.color, ValidUntil: p.until}
	}
	b, err := r.newBuild(ctx, version, opts)
	if err != nil {
		return nil, err
	}
	m := &format.Manifest{Format: 1, Version: version, Published: now, HashKey: hex.EncodeToString(r.hashKey), Statuses: int64(len(full))}
	if m.Snapshot, err = b.chunks(format.KindSnapshot, "snapshot", full); err != nil {
		return nil, err
	}
	if r.manifest != nil {
		if m.Deltas, err = b.deltas(version, diff(prev, full)); err != nil {
			return nil, err
		}
	}
	if err := b.sideFiles(m, side); err != nil {
		return nil, err
	}
	if err := b.firmware(opts.Firmware); err != nil {
		return nil, err
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("built a bad manifest: %w", err)
	}
	mb, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return nil, err
	}
	if err := b.put("manifest.json", mb); err != nil {
		return nil, err
	}
	old := r.targets
	if err := r.sign(b.files, now, opts); err != nil {
		return nil, err
	}
	r.pruneFirmware(old)
	// The device-visible switch happened with timestamp.json; now the state.
	if err := r.saveState(full, mb); err != nil {
		return nil, err
	}
	r.prune(m)
	return m, nil
}

// build is one version being published: the targets written so far, and
// those carried over from the previous version.
type build struct {
	ctx   context.Context
	r     *repo
	opts  Options
	tdir  string // repo/targets
	vdir  string // this version's folder under it, "vN"
	files map[string]*metadata.TargetFiles
}

func (r *repo) newBuild(ctx context.Context, version int64, opts Options) (*build, error) {
	b := &build{ctx: ctx, r: r, opts: opts, tdir: filepath.Join(r.dir, "repo", "targets"),
		vdir: fmt.Sprintf("v%d", version), files: map[string]*metadata.TargetFiles{}}
	if err := os.MkdirAll(filepath.Join(b.tdir, b.vdir), 0o755); err != nil {
		return nil, err
	}
	return b, nil
}

// put writes a target under its hash (consistent snapshots) and lists it.
func (b *build) put(name string, data []byte) error {
	tf, err := metadata.TargetFile().FromBytes(name, data, "sha256")
	if err != nil {
		return err
	}
	h := hex.EncodeToString(tf.Hashes["sha256"])
	dirName, base := path.Split(name)
	if err := os.MkdirAll(filepath.Join(b.tdir, filepath.FromSlash(dirName)), 0o755); err != nil {
		return fmt.Errorf("write target %s: %w", name, err)
	}
	if err := atomicfile.Write(filepath.Join(b.tdir, filepath.FromSlash(dirName), h+"."+base), data, 0o644); err != nil {
		return fmt.Errorf("write target %s: %w", name, err)
	}
	b.files[name] = tf
	return nil
}

// carry lists a target of the previous version again, unchanged; it
// reports whether there was one.
func (b *build) carry(name string) bool {
	if b.r.manifest == nil {
		return false
	}
	tf, ok := b.r.targets.Signed.Targets[name]
	if ok {
		b.files[name] = tf
	}
	return ok
}

// chunks writes recs as chunks of at most opts.ChunkRecords rows and
// returns their target names.
func (b *build) chunks(kind byte, name string, recs []cache.Record) ([]string, error) {
	var names []string
	var buf bytes.Buffer
	step := b.opts.ChunkRecords
	for i := 0; i == 0 || i < len(recs); i += step {
		if err := b.ctx.Err(); err != nil {
			return nil, err
		}
		buf.Reset()
		if err := format.EncodeChunk(&buf, kind, recs[i:min(i+step, len(recs))], gzip.BestSpeed); err != nil {
			return nil, err
		}
		n := fmt.Sprintf("%s/%s-%d.bin.gz", b.vdir, name, len(names))
		if err := b.put(n, buf.Bytes()); err != nil {
			return nil, err
		}
		names = append(names, n)
		b.opts.Progress("write "+name, int64(min(i+step, len(recs))))
	}
	return names, nil
}

// deltas writes the delta to version and returns the deltas the manifest
// keeps: the newest opts.KeepDeltas, the older ones carried over.
func (b *build) deltas(version int64, delta []cache.Record) ([]format.Delta, error) {
	d := format.Delta{From: version - 1, To: version, Changes: int64(len(delta))}
	var err error
	if d.Chunks, err = b.chunks(format.KindDelta, "delta", delta); err != nil {
		return nil, err
	}
	keep := b.r.manifest.Deltas
	if len(keep) >= b.opts.KeepDeltas {
		keep = keep[len(keep)-b.opts.KeepDeltas+1:]
	}
	for _, od := range keep {
		for _, c := range od.Chunks {
			if !b.carry(c) {
				return nil, fmt.Errorf("previous targets lack %s", c)
			}
		}
	}
	return append(slices.Clone(keep), d), nil
}

// sideFiles writes the side files given, carries over the previous
// version's others, and names them in m.
func (b *build) sideFiles(m *format.Manifest, side map[string][]byte) error {
	for name, dst := range map[string]*string{"revocations.bin.gz": &m.Revocations, "trustlist.pem": &m.TrustList, "rules.json": &m.Rules} {
		if data, ok := side[name]; ok {
			if err := b.put(name, data); err != nil {
				return err
			}
			*dst = name
		} else if b.carry(name) {
			*dst = name
		}
	}
	return nil
}

// saveState keeps the published status set and manifest for the next
// publish's delta.
func (r *repo) saveState(full []cache.Record, manifest []byte) error {
	var sb bytes.Buffer
	if err := format.EncodeChunk(&sb, format.KindSnapshot, full, gzip.BestSpeed); err != nil {
		return err
	}
	if err := atomicfile.Write(statePath(r.dir), sb.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(r.dir, "state", "manifest.json"), manifest, 0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// sign writes new targets, snapshot and timestamp metadata for files, with
// the sites' delegations and their newest signed roles.
func (r *repo) sign(files map[string]*metadata.TargetFiles, now time.Time, opts Options) error {
	metas, _, err := r.siteMetas(now, opts.Warn)
	if err != nil {
		return err
	}
	tv, sv, tsv := int64(1), int64(1), int64(1)
	if r.targets != nil {
		tv, sv, tsv = r.targets.Signed.Version+1, r.snapshot.Signed.Version+1, r.timestamp.Signed.Version+1
	}
	t := metadata.Targets(now.Add(opts.MetadataExpiry))
	t.Signed.Version = tv
	t.Signed.Targets = files
	t.Signed.Delegations = r.delegations
	if err := Sign(t, r.keys[metadata.TARGETS]); err != nil {
		return err
	}
	tb, err := t.ToBytes(false)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(r.meta(fmt.Sprintf("%d.targets.json", tv)), tb, 0o644); err != nil {
		return err
	}
	r.targets = t
	return r.signSnapshot(tb, metas, sv, tsv, now, opts)
}

// signSnapshot writes snapshot version sv over the targets metadata tb and
// the sites' roles (metas), then timestamp version tsv over it.
func (r *repo) signSnapshot(tb []byte, metas map[string]*metadata.MetaFiles, sv, tsv int64, now time.Time, opts Options) error {
	s := metadata.Snapshot(now.Add(opts.MetadataExpiry))
	s.Signed.Version = sv
	mf := metadata.MetaFile(r.targets.Signed.Version)
	mf.Length = int64(len(tb))
	h := sha256.Sum256(tb)
	mf.Hashes = metadata.Hashes{"sha256": h[:]}
	s.Signed.Meta = map[string]*metadata.MetaFiles{"targets.json": mf}
	for k, v := range metas {
		s.Signed.Meta[k] = v
	}
	if err := Sign(s, r.keys[metadata.SNAPSHOT]); err != nil {
		return err
	}
	sb, err := s.ToBytes(false)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(r.meta(fmt.Sprintf("%d.snapshot.json", sv)), sb, 0o644); err != nil {
		return err
	}
	r.snapshot = s
	ts := metadata.Timestamp(now.Add(opts.TimestampExpiry))
	ts.Signed.Version = tsv
	smf := metadata.MetaFile(sv)
	smf.Length = int64(len(sb))
	sh := sha256.Sum256(sb)
	smf.Hashes = metadata.Hashes{"sha256": sh[:]}
	ts.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": smf}
	if err := Sign(ts, r.keys[metadata.TIMESTAMP]); err != nil {
		return err
	}
	tsb, err := ts.ToBytes(false)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(r.meta("timestamp.json"), tsb, 0o644); err != nil {
		return err
	}
	r.timestamp = ts
	return nil
}

// Refresh re-signs the timestamp with a new expiry without new data: run it
// more often than the timestamp expiry so gates do not go stale. The
// targets metadata is signed anew when it would expire first or the sites'
// delegations changed (feed site init), the snapshot when it would expire
// first or a site signed a new list.
func Refresh(dir string, opts Options) error {
	opts.defaults()
	r, err := openRepo(dir)
	if err != nil {
		return fmt.Errorf("refresh %s: %w", dir, err)
	}
	if r.timestamp == nil {
		return fmt.Errorf("refresh %s: nothing published yet", dir)
	}
	now := opts.Clock.Now().UTC()
	tsExp := now.Add(opts.TimestampExpiry)
	delegated, err := sameDelegations(r.targets.Signed.Delegations, r.delegations)
	if err != nil {
		return err
	}
	if !delegated || r.targets.Signed.Expires.Before(tsExp) {
		return r.sign(r.targets.Signed.Targets, now, opts)
	}
	metas, sites, err := r.siteMetas(now, opts.Warn)
	if err != nil {
		return fmt.Errorf("refresh %s: %w", dir, err)
	}
	if sites || r.snapshot.Signed.Expires.Before(tsExp) {
		tb, err := os.ReadFile(r.meta(fmt.Sprintf("%d.targets.json", r.targets.Signed.Version)))
		if err != nil {
			return err
		}
		return r.signSnapshot(tb, metas, r.snapshot.Signed.Version+1, r.timestamp.Signed.Version+1, now, opts)
	}
	ts := metadata.Timestamp(tsExp)
	ts.Signed.Version = r.timestamp.Signed.Version + 1
	ts.Signed.Meta = r.timestamp.Signed.Meta
	if err := Sign(ts, r.keys[metadata.TIMESTAMP]); err != nil {
		return err
	}
	b, err := ts.ToBytes(false)
	if err != nil {
		return err
	}
	return atomicfile.Write(r.meta("timestamp.json"), b, 0o644)
}

// sameDelegations reports whether two delegations are the same.
func sameDelegations(a, b *metadata.Delegations) (bool, error) {
	ja, err := json.Marshal(a)
	if err != nil {
		return false, err
	}
	jb, err := json.Marshal(b)
	return bytes.Equal(ja, jb), err
}

// prune removes the target folders of versions no delta of m refers to any
// more (keeping one extra for gates fetching right now).
func (r *repo) prune(m *format.Manifest) {
	oldest := m.Version
	if len(m.Deltas) > 0 {
		oldest = m.Deltas[0].To
	}
	// Keep one more version: a gate may be fetching it right now.
	oldest--
	ents, _ := os.ReadDir(filepath.Join(r.dir, "repo", "targets"))
	for _, e := range ents {
		if v, ok := strings.CutPrefix(e.Name(), "v"); ok && e.IsDir() {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n < oldest {
				os.RemoveAll(filepath.Join(r.dir, "repo", "targets", e.Name()))
			}
		}
	}
}

// diff returns the changes that turn prev into next (both sorted by hash):
// rows added or changed, and deletions.
func diff(prev, next []cache.Record) []cache.Record {
	var out []cache.Record
	i, j := 0, 0
	for i < len(prev) || j < len(next) {
		switch {
		case j == len(next) || (i < len(prev) && bytes.Compare(prev[i].Hash[:], next[j].Hash[:]) < 0):
			out = append(out, cache.Record{Hash: prev[i].Hash, Delete: true})
			i++
		case i == len(prev) || bytes.Compare(prev[i].Hash[:], next[j].Hash[:]) > 0:
			out = append(out, next[j])
			j++
		default:
			if prev[i].Color != next[j].Color || prev[i].ValidUntil != next[j].ValidUntil {
				out = append(out, next[j])
			}
			i++
			j++
		}
	}
	return out
}
