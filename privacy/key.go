package privacy

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/carepath/carepath/failure"
)

// KeyFileEnv names the environment variable that gives the pseudonym key file. When it is unset
// the command line uses DefaultKeyFile, and creates it on first use.
const KeyFileEnv = "CAREPATH_PSEUDONYM_KEY_FILE"

// maxKeyFileBytes bounds what LoadKey reads, so naming a database or a log by mistake fails fast.
const maxKeyFileBytes = 4 << 10

// DefaultKeyFile is pseudonym.key in the per-user configuration directory's carepath folder
// (such as ~/.config/carepath/pseudonym.key on Linux).
func DefaultKeyFile() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("privacy: unable to find the configuration directory for the pseudonym key (set %s): %w", KeyFileEnv, err)
	}
	return filepath.Join(dir, "carepath", "pseudonym.key"), nil
}

// LoadKey reads a pseudonym key file: hex digits (what CreateKeyFile writes; surrounding white
// space ignored) or at least MinKeyBytes raw bytes. A file of hex digits is always read as hex, so
// a short hex key is refused rather than taken as its characters.
func LoadKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("privacy: unable to read the pseudonym key: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("privacy: unable to read the pseudonym key %s: %w", path, err)
	}
	if len(data) > maxKeyFileBytes {
		return nil, failure.Errorf(failure.Invalid, "pseudonym key %s: is larger than %d bytes; is it the right file?", path, maxKeyFileBytes)
	}
	if text := bytes.TrimSpace(data); len(text) > 0 && isHex(text) {
		if len(text)%2 != 0 {
			return nil, failure.Errorf(failure.Invalid, "pseudonym key %s: has an odd number of hex digits", path)
		}
		key := make([]byte, hex.DecodedLen(len(text)))
		if _, err := hex.Decode(key, text); err != nil {
			return nil, failure.Errorf(failure.Invalid, "pseudonym key %s: %v", path, err)
		}
		data = key
	}
	if len(data) < MinKeyBytes {
		return nil, failure.Errorf(failure.Invalid, "pseudonym key %s: is %d bytes; at least %d are needed (%d hex digits)", path, len(data), MinKeyBytes, 2*MinKeyBytes)
	}
	return data, nil
}

// CreateKeyFile returns the key in path, first creating the file with a new random key (32 bytes,
// written as hex, mode 0600, in a directory created with mode 0700) when there is none. An existing
// file is never replaced: a new key would give every person a new pseudonym. Two processes
// starting together end up with the same key, because the file appears whole or not at all.
func CreateKeyFile(path string) ([]byte, error) {
	if key, err := LoadKey(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("privacy: unable to create the pseudonym key: %w", err)
	}
	key := make([]byte, MinKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("privacy: unable to create the pseudonym key: %w", err)
	}
	// Written in full under a temporary name and linked into place, which fails if the file exists.
	tmp, err := os.CreateTemp(dir, ".pseudonym-key-*")
	if err != nil {
		return nil, fmt.Errorf("privacy: unable to create the pseudonym key: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.WriteString(hex.EncodeToString(key) + "\n")
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("privacy: unable to write the pseudonym key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return LoadKey(path)
	} else if err != nil {
		return nil, fmt.Errorf("privacy: unable to create the pseudonym key: %w", err)
	}
	return key, nil
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
