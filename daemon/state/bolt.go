package state

// The bbolt file DATA_DIR/state.db (mode 0600, DATA_DIR 0700) holds:
//
//	meta/                      bucket
//	  app        "synchronizer"   marks the file as ours; a file without it is refused
//	  version    "1"              schema version, ASCII decimal; see migrations
//	  created    RFC 3339 time of creation
//	  key_check  sealed constant  proves encryption.key_file is the key tokens were sealed with
//	links/                     bucket
//	  <profile>/<link>  JSON Link; its activation URL (which holds the activation
//	                    secret) is sealed like a token (AAD "links/"+key)
//	tenants/                   bucket
//	  <superoffice block name>  JSON Tenant (last known licence count)
//	tokens/                    bucket
//	  link/<profile>/<link>     sealed JSON Token (AES-256-GCM, AAD "tokens/"+key)
//	  connection/<name>         sealed JSON Token of a tenant-level connection
//	activations/               bucket
//	  <hex SHA-256 of the secret>  JSON Activation (the secret itself is never stored)
//	pairs/    bucket  reserved for the sync engine (syncstore.go): item pairs per link
//	cursors/  bucket  reserved for the sync engine: incremental cursors per link and side
//	intents/  bucket  reserved for the sync engine: write intents per link
//	push/     bucket  made on first use (push.go): change subscriptions by path token
//
// Migrations: meta/version says which schema the file has. Open runs every
// migration above it in one write transaction, after copying the file to
// state.db.v<old>.bak; a file with a version above the newest known is refused
// (a downgrade would misread it). Version 1 is the first schema.
//
// Rules: never hold a transaction across I/O other than this file; copy bytes
// out of a transaction before using them after it.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the state file's name inside data_dir.
const FileName = "state.db"

const appName = "synchronizer"

// Bucket names. The engine's buckets are created by migration 1 so that its
// store can rely on them.
var (
	bucketMeta        = []byte("meta")
	bucketLinks       = []byte("links")
	bucketTenants     = []byte("tenants")
	bucketTokens      = []byte("tokens")
	bucketActivations = []byte("activations")
	bucketPairs       = []byte("pairs")
	bucketCursors     = []byte("cursors")
	bucketIntents     = []byte("intents")

	keyApp      = []byte("app")
	keyVersion  = []byte("version")
	keyCreated  = []byte("created")
	keyKeyCheck = []byte("key_check")
)

var keyCheckPlain = []byte("synchronizer key check v1")

var errClosed = errors.New("state store is closed")

// migration brings a file from version to-1 to version to.
type migration struct {
	to  int
	run func(tx *bolt.Tx) error
}

// migrations, in order. The last one's version is the current schema.
var migrations = []migration{
	{to: 1, run: func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketLinks, bucketTenants, bucketTokens, bucketActivations,
			bucketPairs, bucketCursors, bucketIntents} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	}},
}

// Options tune Open.
type Options struct {
	// Cipher seals tokens; required.
	Cipher *Cipher
	// Timeout is how long Open waits for another process's lock (5 s when zero).
	Timeout time.Duration
	// Now stamps times (time.Now when nil).
	Now func() time.Time
	// Logger (slog.Default when nil).
	Logger *slog.Logger
	// RunFlush bounds how long the end of a link's last run may wait in memory
	// before it is written (DefaultRunFlush when zero; see linkrows.go).
	RunFlush time.Duration

	migrations []migration // tests swap the list
}

// Bolt is the Store on a bbolt file.
type Bolt struct {
	// db is the open file. The sync engine's store (syncstore.go) uses it for
	// the pairs, cursors and intents buckets.
	db     *bolt.DB
	cipher *Cipher
	now    func() time.Time
	log    *slog.Logger
	path   string

	rows linkRows // linkrows.go
}

var _ Store = (*Bolt)(nil)

// Open opens (or creates) DATA_DIR/state.db. It refuses, without writing to it,
// a file that is not a synchronizer state file, a corrupt one, one from a newer
// version, one sealed with another key, and one another process has open.
func Open(dataDir string, opts Options) (*Bolt, error) {
	if opts.Cipher == nil {
		return nil, errors.New("open state: no encryption key configured")
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.migrations == nil {
		opts.migrations = migrations
	}
	if err := prepareDir(dataDir, opts.Logger); err != nil {
		return nil, err
	}
	path := filepath.Join(dataDir, FileName)

	existing, err := inspect(path, dataDir, opts)
	if err != nil {
		return nil, err
	}

	db, err := openBolt(path, dataDir, opts.Timeout, false)
	if err != nil {
		return nil, err
	}
	b := &Bolt{db: db, cipher: opts.Cipher, now: opts.Now, log: opts.Logger, path: path}
	b.rows.flushAfter = opts.RunFlush
	if b.rows.flushAfter <= 0 {
		b.rows.flushAfter = DefaultRunFlush
	}
	if err := b.migrate(existing, opts.migrations); err != nil {
		db.Close()
		return nil, err
	}
	if err := b.checkKey(); err != nil {
		db.Close()
		return nil, err
	}
	return b, nil
}

// prepareDir makes data_dir (0700) and explains what is wrong with it.
func prepareDir(dir string, log *slog.Logger) error {
	if dir == "" {
		return errors.New("data_dir is not set")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("data_dir %s: a file is in the way where a directory should be", dir)
		}
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return fmt.Errorf("data_dir %s cannot be created: %w (create it for the daemon's user, mode 0700)", dir, err)
		}
		return fmt.Errorf("data_dir %s: %w", dir, err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data_dir %s: %w", dir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("data_dir %s is not a directory", dir)
	}
	if info.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			log.Warn("data_dir is open to other users and cannot be restricted", "data_dir", dir, "mode", info.Mode().Perm().String(), "err", err)
		} else {
			log.Info("restricted data_dir to its owner", "data_dir", dir, "was", info.Mode().Perm().String())
		}
	}
	return nil
}

// openBolt opens path with the lock timeout, turning bbolt's errors (and panics
// on damaged files) into ours.
func openBolt(path, dataDir string, timeout time.Duration, readOnly bool) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%s: %w (%v); it was left untouched: restore it from a backup or move it away", path, ErrCorrupt, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, boltOptions(timeout, readOnly))
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("another synchronizer is using %s (%s is locked): %w", dataDir, path, ErrLocked)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, fmt.Errorf("%s: %w (not a bbolt database); it was left untouched: move it away if it is not needed", path, ErrForeign)
	case errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, fmt.Errorf("%s: %w (%v); it was left untouched: restore it from a backup or move it away", path, ErrCorrupt, err)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return nil, fmt.Errorf("data_dir %s is not writable by this user (uid %d): %w", dataDir, os.Getuid(), err)
	default:
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
}

// boltOptions are the file's open options. The state file takes many small
// write transactions (every write of the sync engine is one), so the free-page
// list is not written with each of them (NoFreelistSync): the list is rebuilt by
// one scan of the file when it is opened for writing, which costs a moment at
// start on a large file, and kept as a hash map (FreelistMapType), whose
// allocations stay cheap however fragmented the file gets. A file written this
// way opens in an older build too (bbolt writes the list back for it).
func boltOptions(timeout time.Duration, readOnly bool) *bolt.Options {
	return &bolt.Options{
		Timeout:        timeout,
		ReadOnly:       readOnly,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	}
}

// bboltMagic opens every bbolt meta page.
const bboltMagic = 0xED0CDAED

// inspect looks at an existing non-empty state file read-only before anything
// may write to it. It returns whether the file already holds our schema.
func inspect(path, dataDir string, opts Options) (bool, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state file %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return false, fmt.Errorf("state file %s is not a regular file", path)
	}
	if info.Size() == 0 {
		return false, nil // a file created but never written holds nothing to lose
	}
	if err := checkMagic(path); err != nil {
		return false, err
	}
	db, err := openBolt(path, dataDir, opts.Timeout, true)
	if err != nil {
		return false, err
	}
	defer db.Close()
	existing := false
	err = safeView(db, func(tx *bolt.Tx) error {
		empty := true
		if err := tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil }); err != nil {
			return err
		}
		if empty {
			return nil
		}
		meta := tx.Bucket(bucketMeta)
		if meta == nil || !bytes.Equal(meta.Get(keyApp), []byte(appName)) {
			return fmt.Errorf("%s: %w (a bbolt file of another program); it was left untouched: move it away", path, ErrForeign)
		}
		v, err := strconv.Atoi(string(meta.Get(keyVersion)))
		if err != nil || v < 1 {
			return fmt.Errorf("%s: %w: unreadable schema version %q", path, ErrCorrupt, meta.Get(keyVersion))
		}
		if latest := opts.migrations[len(opts.migrations)-1].to; v > latest {
			return fmt.Errorf("%s: %w (schema %d, this version knows up to %d): upgrade the synchronizer binary", path, ErrTooNew, v, latest)
		}
		for cerr := range tx.Check() {
			return fmt.Errorf("%s: %w (%v); it was left untouched: restore it from a backup or move it away", path, ErrCorrupt, cerr)
		}
		existing = true
		return nil
	})
	return existing, err
}

// checkMagic refuses files that are not bbolt databases before bbolt sees them.
func checkMagic(path string) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("cannot read state file %s: permission denied (run as the user that owns it)", path)
		}
		return fmt.Errorf("state file %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, 16+4)
	if _, err := io.ReadFull(f, head); err != nil {
		return fmt.Errorf("%s: %w (too short to be a state file); it was left untouched: move it away", path, ErrForeign)
	}
	if binary.LittleEndian.Uint32(head[16:]) != bboltMagic {
		return fmt.Errorf("%s: %w (not a bbolt database); it was left untouched: move it away if it is not needed", path, ErrForeign)
	}
	return nil
}

// safeView runs a read transaction, turning a panic on a damaged file into ErrCorrupt.
func safeView(db *bolt.DB, fn func(tx *bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: %w (%v); it was left untouched: restore it from a backup or move it away", db.Path(), ErrCorrupt, r)
		}
	}()
	return db.View(fn)
}

// migrate brings the schema up to date.
func (b *Bolt) migrate(existing bool, list []migration) error {
	current := 0
	if existing {
		if err := b.db.View(func(tx *bolt.Tx) error {
			v, err := strconv.Atoi(string(tx.Bucket(bucketMeta).Get(keyVersion)))
			current = v
			return err
		}); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
	}
	latest := list[len(list)-1].to
	if current == latest {
		return nil
	}
	if existing {
		backup := fmt.Sprintf("%s.v%d.bak", b.path, current)
		if err := b.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(backup, 0o600) }); err != nil {
			return fmt.Errorf("back up %s before migrating: %w", b.path, err)
		}
		b.log.Info("migrating state", "from", current, "to", latest, "backup", backup)
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if !existing {
			if err := meta.Put(keyApp, []byte(appName)); err != nil {
				return err
			}
			if err := meta.Put(keyCreated, []byte(b.now().UTC().Format(time.RFC3339))); err != nil {
				return err
			}
		}
		for _, m := range list {
			if m.to <= current {
				continue
			}
			if err := m.run(tx); err != nil {
				return fmt.Errorf("migrate state to version %d: %w", m.to, err)
			}
		}
		return meta.Put(keyVersion, []byte(strconv.Itoa(latest)))
	})
}

// checkKey proves the configured key is the one the file was written with,
// storing the proof on first use.
func (b *Bolt) checkKey() error {
	return b.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		sealed := meta.Get(keyKeyCheck)
		if sealed == nil {
			s, err := b.cipher.Seal(keyCheckPlain, keyKeyCheck)
			if err != nil {
				return err
			}
			return meta.Put(keyKeyCheck, s)
		}
		plain, err := b.cipher.Open(sealed, keyKeyCheck)
		if err != nil || !bytes.Equal(plain, keyCheckPlain) {
			return fmt.Errorf("%s: %w: use the key file it was created with (tokens cannot be read otherwise)", b.path, ErrWrongKey)
		}
		return nil
	})
}

// Path is the state file's path.
func (b *Bolt) Path() string { return b.path }

// Close writes what waits in memory (linkrows.go), closes the file and
// releases its lock.
func (b *Bolt) Close() error {
	b.stopRows()
	return b.db.Close()
}

func (b *Bolt) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.db.View(fn)
}

func (b *Bolt) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.db.Update(fn)
}

func getJSON(bk *bolt.Bucket, key []byte, v any) error {
	raw := bk.Get(key)
	if raw == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}

func putJSON(bk *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return bk.Put(key, raw)
}

// storedLink is a Link as the file holds it: the activation URL sealed.
type storedLink struct {
	Link
	SealedActivationURL []byte `json:",omitempty"`
}

func linkAAD(id LinkID) []byte { return []byte("links/" + id.String()) }

func (b *Bolt) encodeLink(l Link) ([]byte, error) {
	sl := storedLink{Link: l}
	sl.Link.ActivationURL = ""
	if l.ActivationURL != "" {
		sealed, err := b.cipher.Seal([]byte(l.ActivationURL), linkAAD(l.ID))
		if err != nil {
			return nil, err
		}
		sl.SealedActivationURL = sealed
	}
	return json.Marshal(sl)
}

func (b *Bolt) decodeLink(raw []byte) (Link, error) {
	var sl storedLink
	if err := json.Unmarshal(raw, &sl); err != nil {
		return Link{}, err
	}
	l := sl.Link
	l.ActivationURL = ""
	if len(sl.SealedActivationURL) > 0 {
		plain, err := b.cipher.Open(sl.SealedActivationURL, linkAAD(l.ID))
		if err != nil {
			return Link{}, fmt.Errorf("activation URL of %s: %w", l.ID, err)
		}
		l.ActivationURL = string(plain)
	}
	return l, nil
}

func (b *Bolt) Tenant(ctx context.Context, name string) (Tenant, error) {
	var t Tenant
	err := b.view(ctx, func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketTenants), []byte(name), &t)
	})
	if err != nil {
		return Tenant{}, fmt.Errorf("read tenant %s: %w", name, err)
	}
	return t, nil
}

func (b *Bolt) PutTenant(ctx context.Context, t Tenant) error {
	err := b.update(ctx, func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketTenants), []byte(t.Name), t)
	})
	if err != nil {
		return fmt.Errorf("store tenant %s: %w", t.Name, err)
	}
	return nil
}

func tokenAAD(key TokenKey) []byte { return []byte("tokens/" + string(key)) }

func (b *Bolt) Token(ctx context.Context, key TokenKey) (Token, error) {
	var sealed []byte
	err := b.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketTokens).Get([]byte(key))
		if v == nil {
			return ErrNotFound
		}
		sealed = bytes.Clone(v)
		return nil
	})
	if err != nil {
		return Token{}, fmt.Errorf("read token %s: %w", key, err)
	}
	plain, err := b.cipher.Open(sealed, tokenAAD(key))
	if err != nil {
		return Token{}, fmt.Errorf("open token %s: %w", key, err)
	}
	var t Token
	if err := json.Unmarshal(plain, &t); err != nil {
		return Token{}, fmt.Errorf("decode token %s: %w", key, err)
	}
	return t, nil
}

func (b *Bolt) PutToken(ctx context.Context, key TokenKey, tok Token) error {
	plain, err := json.Marshal(tok)
	if err != nil {
		return fmt.Errorf("encode token %s: %w", key, err)
	}
	sealed, err := b.cipher.Seal(plain, tokenAAD(key))
	if err != nil {
		return fmt.Errorf("seal token %s: %w", key, err)
	}
	err = b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).Put([]byte(key), sealed)
	})
	if err != nil {
		return fmt.Errorf("store token %s: %w", key, err)
	}
	return nil
}

func (b *Bolt) DeleteToken(ctx context.Context, key TokenKey) error {
	err := b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("delete token %s: %w", key, err)
	}
	return nil
}

func (b *Bolt) PutActivation(ctx context.Context, secret string, a Activation) error {
	err := b.update(ctx, func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketActivations), secretKey(secret), a)
	})
	if err != nil {
		return fmt.Errorf("store activation: %w", err)
	}
	return nil
}

func (b *Bolt) Activation(ctx context.Context, secret string, now time.Time) (Activation, error) {
	var a Activation
	err := b.view(ctx, func(tx *bolt.Tx) error {
		if err := getJSON(tx.Bucket(bucketActivations), secretKey(secret), &a); err != nil {
			return err
		}
		return checkActivation(a, now)
	})
	if err != nil {
		return Activation{}, fmt.Errorf("activation: %w", err)
	}
	return a, nil
}

func (b *Bolt) ConsumeActivation(ctx context.Context, secret string, now time.Time) (Activation, error) {
	var a Activation
	err := b.update(ctx, func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketActivations)
		if err := getJSON(bk, secretKey(secret), &a); err != nil {
			return err
		}
		if err := checkActivation(a, now); err != nil {
			return err
		}
		a.Used = now
		return putJSON(bk, secretKey(secret), a)
	})
	if err != nil {
		return Activation{}, fmt.Errorf("use activation: %w", err)
	}
	return a, nil
}

func (b *Bolt) RevokeActivations(ctx context.Context, link LinkID, connection string) error {
	return b.deleteActivations(ctx, func(a Activation) bool { return matchesRevoke(a, link, connection) }, nil)
}

func (b *Bolt) PruneActivations(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := b.deleteActivations(ctx, func(a Activation) bool {
		return a.Expires.Before(cutoff) || (!a.Used.IsZero() && a.Used.Before(cutoff))
	}, &n)
	return n, err
}

func (b *Bolt) deleteActivations(ctx context.Context, match func(Activation) bool, count *int) error {
	err := b.update(ctx, func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketActivations)
		var doomed [][]byte
		err := bk.ForEach(func(k, v []byte) error {
			var a Activation
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("decode activation: %w", err)
			}
			if match(a) {
				doomed = append(doomed, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range doomed {
			if err := bk.Delete(k); err != nil {
				return err
			}
		}
		if count != nil {
			*count = len(doomed)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete activations: %w", err)
	}
	return nil
}
