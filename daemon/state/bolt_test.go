package state

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	s := openTest(t, dir, testCipher(t, 1))
	defer s.Close()
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, FileName): 0o600} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s mode = %v, want %v", path, info.Mode().Perm(), want)
		}
	}
}

func TestOpenTightensDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, dir, testCipher(t, 1))
	s.Close()
	info, _ := os.Stat(dir)
	if info.Mode().Perm() != 0o700 {
		t.Fatalf("data_dir mode = %v, want 0700", info.Mode().Perm())
	}
}

func TestReopenKeepsDataAndSealsTokens(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	s := openTest(t, dir, testCipher(t, 1))
	id := LinkID{"p", "jane"}
	if _, err := s.UpdateLink(ctx, id, func(l *Link) error {
		l.State, l.Items, l.ActivationURL = Active, 7, "https://sync.example.com/activate/url-secret-marker"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutToken(ctx, LinkToken(id), Token{RefreshToken: "refresh-token-plaintext-marker"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutActivation(ctx, "activation-secret-marker", Activation{Expires: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	raw, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"refresh-token-plaintext-marker", "activation-secret-marker", "url-secret-marker"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("%q is stored in clear", secret)
		}
	}

	s = openTest(t, dir, testCipher(t, 1))
	defer s.Close()
	l, err := s.Link(ctx, id)
	if err != nil || l.State != Active || l.Items != 7 || l.ActivationURL != "https://sync.example.com/activate/url-secret-marker" {
		t.Fatalf("link after reopen = %+v, %v", l, err)
	}
	tok, err := s.Token(ctx, LinkToken(id))
	if err != nil || tok.RefreshToken != "refresh-token-plaintext-marker" {
		t.Fatalf("token after reopen = %+v, %v", tok, err)
	}
	if _, err := s.Activation(ctx, "activation-secret-marker", t0); err != nil {
		t.Fatalf("activation after reopen: %v", err)
	}
}

func TestSealedTokenCannotMoveToAnotherKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	s := openTest(t, dir, testCipher(t, 1))
	defer s.Close()
	if err := s.PutToken(ctx, LinkToken(LinkID{"p", "a"}), Token{AccessToken: "a"}); err != nil {
		t.Fatal(err)
	}
	// Copy a's sealed bytes into b's slot, as an attacker with write access might.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketTokens)
		return bk.Put([]byte(LinkToken(LinkID{"p", "b"})), bytes.Clone(bk.Get([]byte(LinkToken(LinkID{"p", "a"})))))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Token(ctx, LinkToken(LinkID{"p", "b"})); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("moved token opened: err = %v", err)
	}
}

func TestOpenRefusesWithoutChangingTheFile(t *testing.T) {
	t.Parallel()
	valid := func(t *testing.T, dir string) {
		s := openTest(t, dir, testCipher(t, 1))
		if _, err := s.UpdateLink(context.Background(), LinkID{"p", "l"}, func(l *Link) error { l.State = Active; return nil }); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	cases := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		cipher  byte
		want    error
		text    string
	}{
		{"garbage", func(t *testing.T, dir string) {
			seed := uint64(time.Now().UnixNano())
			if v := os.Getenv("STATE_TEST_SEED"); v != "" {
				fmt.Sscan(v, &seed)
			}
			t.Logf("garbage seed %d (replay with STATE_TEST_SEED=%d)", seed, seed)
			r := rand.New(rand.NewPCG(seed, 1))
			b := make([]byte, 64<<10)
			for i := range b {
				b[i] = byte(r.UintN(256))
			}
			write(t, filepath.Join(dir, FileName), b)
		}, 1, ErrForeign, "not a bbolt database"},
		{"text file", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, FileName), []byte("data_dir = \"/var/lib/synchronizer\"\n"))
		}, 1, ErrForeign, "left untouched"},
		{"bbolt file of another program", func(t *testing.T, dir string) {
			db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket([]byte("members"))
				if err != nil {
					return err
				}
				return b.Put([]byte("k"), []byte("v"))
			}); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}, 1, ErrForeign, "another program"},
		{"truncated", func(t *testing.T, dir string) {
			valid(t, dir)
			path := filepath.Join(dir, FileName)
			b, _ := os.ReadFile(path)
			write(t, path, b[:3*4096])
		}, 1, ErrCorrupt, "restore it from a backup"},
		{"newer schema", func(t *testing.T, dir string) {
			valid(t, dir)
			db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyVersion, []byte("99")) }); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}, 1, ErrTooNew, "upgrade"},
		{"another key", valid, 2, ErrWrongKey, "key file it was created with"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			c.prepare(t, dir)
			path := filepath.Join(dir, FileName)
			before := fileSum(t, path)
			s, err := Open(dir, Options{Cipher: testCipher(t, c.cipher), Timeout: 200 * time.Millisecond, Logger: quiet})
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
				t.Fatalf("err = %v; want %v mentioning %q", err, c.want, c.text)
			}
			if fileSum(t, path) != before {
				t.Fatal("the refused file was changed")
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Fatalf("refusal left files behind: %v", entries)
			}
		})
	}
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSecondInstanceIsToldWhoHoldsTheLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir, testCipher(t, 1))
	defer s.Close()
	start := time.Now()
	_, err := Open(dir, Options{Cipher: testCipher(t, 1), Timeout: 100 * time.Millisecond, Logger: quiet})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "another synchronizer is using "+dir) {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("waited %v for a 100ms timeout", took)
	}
}

func TestBadDataDir(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	file := filepath.Join(base, "file")
	write(t, file, []byte("x"))
	cases := []struct {
		name, dir, text string
		skipRoot        bool
	}{
		{"empty", "", "data_dir is not set", false},
		{"a file", file, "a file is in the way", false},
		{"below a file", filepath.Join(file, "data"), "a file is in the way", false},
		{"not writable", filepath.Join(base, "ro", "data"), "cannot be created", true},
		// sysfs refuses mkdir even to root, so this runs in CI too.
		{"not writable even for root", "/sys/synchronizer-test-data", "cannot be created", false},
	}
	if err := os.Mkdir(filepath.Join(base, "ro"), 0o500); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.skipRoot && os.Geteuid() == 0 {
				t.Skip("root writes anywhere")
			}
			if strings.HasPrefix(c.dir, "/sys/") {
				if _, err := os.Stat("/sys/kernel"); err != nil {
					t.Skip("no sysfs")
				}
			}
			_, err := Open(c.dir, Options{Cipher: testCipher(t, 1), Timeout: 100 * time.Millisecond, Logger: quiet})
			if err == nil || !strings.Contains(err.Error(), c.text) {
				t.Fatalf("err = %v, want mention of %q", err, c.text)
			}
		})
	}
}

func TestReadOnlyStateFile(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root writes anywhere")
	}
	dir := t.TempDir()
	s := openTest(t, dir, testCipher(t, 1))
	s.Close()
	os.Chmod(filepath.Join(dir, FileName), 0o400)
	_, err := Open(dir, Options{Cipher: testCipher(t, 1), Timeout: 100 * time.Millisecond, Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Fatalf("err = %v", err)
	}
}

func TestMigrationBacksUpAndUpgrades(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir, testCipher(t, 1))
	if _, err := s.UpdateLink(context.Background(), LinkID{"p", "l"}, func(l *Link) error { l.State = Active; return nil }); err != nil {
		t.Fatal(err)
	}
	s.Close()

	ran := 0
	v2 := append(append([]migration(nil), migrations...), migration{to: 2, run: func(tx *bolt.Tx) error {
		ran++
		_, err := tx.CreateBucket([]byte("v2"))
		return err
	}})
	for range 2 { // the second open finds version 2 and does nothing
		s, err := Open(dir, Options{Cipher: testCipher(t, 1), migrations: v2, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		var version string
		s.db.View(func(tx *bolt.Tx) error {
			version = string(tx.Bucket(bucketMeta).Get(keyVersion))
			if tx.Bucket([]byte("v2")) == nil {
				return fmt.Errorf("no v2 bucket")
			}
			return nil
		})
		if version != "2" {
			t.Fatalf("version = %q", version)
		}
		l, err := s.Link(context.Background(), LinkID{"p", "l"})
		if err != nil || l.State != Active {
			t.Fatalf("data lost in migration: %+v %v", l, err)
		}
		s.Close()
	}
	if ran != 1 {
		t.Fatalf("migration ran %d times", ran)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName+".v1.bak")); err != nil {
		t.Fatalf("no backup: %v", err)
	}
}
