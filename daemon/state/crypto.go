package state

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// KeySize is the length of the token encryption key: AES-256.
const KeySize = 32

// sealVersion is the first byte of every sealed value, so the format can change.
const sealVersion = 1

// ErrWrongKey: the encryption key cannot open what the store holds.
var ErrWrongKey = errors.New("the encryption key does not match the one the state was written with")

// Cipher seals and opens small secrets (OAuth tokens) with AES-256-GCM. A sealed
// value is: version byte, 12-byte random nonce, ciphertext with tag. The caller's
// additional data (the value's bucket and key) binds a sealed value to its place,
// so it cannot be moved to another link's slot.
type Cipher struct {
	aead cipher.AEAD
	rand io.Reader
}

// NewCipher builds a Cipher from a 32-byte key. random supplies nonces
// (crypto/rand when nil).
func NewCipher(key []byte, random io.Reader) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("encryption key has %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	if random == nil {
		random = rand.Reader
	}
	return &Cipher{aead: aead, rand: random}, nil
}

// Seal encrypts plain, bound to aad.
func (c *Cipher) Seal(plain, aad []byte) ([]byte, error) {
	out := make([]byte, 1+c.aead.NonceSize(), 1+c.aead.NonceSize()+len(plain)+c.aead.Overhead())
	out[0] = sealVersion
	if _, err := io.ReadFull(c.rand, out[1:]); err != nil {
		return nil, fmt.Errorf("make nonce: %w", err)
	}
	return c.aead.Seal(out, out[1:], plain, aad), nil
}

// Open decrypts what Seal made with the same aad. A wrong key or a tampered
// value gives ErrWrongKey.
func (c *Cipher) Open(sealed, aad []byte) ([]byte, error) {
	n := c.aead.NonceSize()
	if len(sealed) < 1+n+c.aead.Overhead() || sealed[0] != sealVersion {
		return nil, fmt.Errorf("sealed value is malformed (%d bytes)", len(sealed))
	}
	plain, err := c.aead.Open(nil, sealed[1:1+n], sealed[1+n:], aad)
	if err != nil {
		return nil, ErrWrongKey
	}
	return plain, nil
}

// LoadKey reads the key file named by encryption.key_file. It accepts 32 raw
// bytes, or 64 hexadecimal digits, or the standard base64 of 32 bytes (text
// forms may end in a newline). Errors say how to make a good key; they never
// echo the file's contents.
func LoadKey(path string) (*Cipher, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("encryption key file %s does not exist: create one with `synchronizer keygen -out %s`", path, path)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("cannot read encryption key file %s: permission denied (the daemon's user must be able to read it)", path)
	case err != nil:
		return nil, fmt.Errorf("read encryption key file %s: %w", path, err)
	}
	key, err := parseKey(b)
	if err != nil {
		return nil, fmt.Errorf("encryption key file %s: %w; make a new one with `synchronizer keygen -out FILE` or `head -c 32 /dev/urandom > FILE`", path, err)
	}
	return NewCipher(key, nil)
}

func parseKey(b []byte) ([]byte, error) {
	if len(b) == KeySize {
		return b, nil
	}
	text := bytes.TrimRight(b, "\r\n")
	if len(text) == 2*KeySize {
		if key, err := hex.DecodeString(string(text)); err == nil {
			return key, nil
		}
	}
	if key, err := base64.StdEncoding.DecodeString(string(text)); err == nil && len(key) == KeySize {
		return key, nil
	}
	return nil, fmt.Errorf("holds %d bytes, want %d random bytes (or 64 hex digits, or their base64)", len(b), KeySize)
}

// WriteKeyFile creates path with 32 random bytes from random (crypto/rand when
// nil), mode 0600. It never overwrites an existing file.
func WriteKeyFile(path string, random io.Reader) error {
	if random == nil {
		random = rand.Reader
	}
	key := make([]byte, KeySize)
	if _, err := io.ReadFull(random, key); err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists: refusing to overwrite a key (tokens sealed with it would be lost)", path)
	}
	if err != nil {
		return fmt.Errorf("create key file: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("sync key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("close key file %s: %w", path, err)
	}
	return nil
}
