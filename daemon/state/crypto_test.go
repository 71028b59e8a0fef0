package state

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadKeyForms(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{0xab}, KeySize)
	dir := t.TempDir()
	cases := []struct {
		name    string
		content []byte
		err     string
	}{
		{"raw", key, ""},
		{"hex", []byte(hex.EncodeToString(key) + "\n"), ""},
		{"base64", []byte(base64.StdEncoding.EncodeToString(key) + "\n"), ""},
		{"too short", key[:16], "holds 16 bytes"},
		{"too long", append(key, 0), "holds 33 bytes"},
		{"empty", nil, "holds 0 bytes"},
		{"hex of wrong length", []byte(hex.EncodeToString(key[:31])), "holds 62 bytes"},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name)
		write(t, path, c.content)
		ciph, err := LoadKey(path)
		if c.err == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			// The key must be the same whatever the form: a value sealed with
			// the raw key opens.
			raw, _ := NewCipher(key, nil)
			sealed, _ := raw.Seal([]byte("x"), nil)
			if _, err := ciph.Open(sealed, nil); err != nil {
				t.Errorf("%s: decoded a different key", c.name)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "synchronizer keygen") {
			t.Errorf("%s: err = %v, want %q and a hint", c.name, err, c.err)
		}
	}
}

func TestLoadKeyMissingAndUnreadable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := LoadKey(filepath.Join(dir, "nope"))
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "keygen") {
		t.Fatalf("missing: %v", err)
	}
	_, err = LoadKey(dir)
	if err == nil {
		t.Fatal("a directory loaded as a key")
	}
	if os.Geteuid() != 0 {
		path := filepath.Join(dir, "locked")
		write(t, path, bytes.Repeat([]byte{1}, KeySize))
		os.Chmod(path, 0)
		_, err = LoadKey(path)
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Fatalf("unreadable: %v", err)
		}
	}
}

func TestWriteKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "key")
	if err := WriteKeyFile(path, nil); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 || info.Size() != KeySize {
		t.Fatalf("key file: %v %v", info, err)
	}
	before, _ := os.ReadFile(path)
	err = WriteKeyFile(path, nil)
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("overwrite: %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("existing key changed")
	}
	if _, err := LoadKey(path); err != nil {
		t.Fatalf("generated key does not load: %v", err)
	}
}

func TestCipherRejectsTampering(t *testing.T) {
	t.Parallel()
	c := testCipher(t, 1)
	sealed, err := c.Seal([]byte("refresh"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 1
		if _, err := c.Open(bad, []byte("aad")); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	if _, err := c.Open(sealed, []byte("other")); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong aad: %v", err)
	}
	if _, err := testCipher(t, 2).Open(sealed, []byte("aad")); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := c.Open(sealed[:5], nil); err == nil {
		t.Fatal("short value opened")
	}
}
