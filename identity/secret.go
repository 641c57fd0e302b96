package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/carepath/carepath/failure"
)

// Argon2id parameters: OWASP's first recommended set (19 MiB, two passes, one lane), which keeps a
// sign-in near 30 ms on a small server while making each guess as costly for an attacker.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

// MinPasswordLength is the shortest password accepted for a local account (NCSC guidance favours
// length over composition rules).
const MinPasswordLength = 12

// HashPassword returns an argon2id hash of password in the PHC string format.
func HashPassword(password string) (string, error) {
	if len(password) < MinPasswordLength {
		return "", failure.Errorf(failure.Invalid, "password: at least %d characters", MinPasswordLength)
	}
	if len(password) > 1024 {
		return "", failure.Errorf(failure.Invalid, "password: at most 1024 characters")
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("identity: unable to make a salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches an argon2id hash made by HashPassword; it takes
// the same time for a wrong password as for a right one.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var memory uint32
	var passes uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &passes, &threads); err != nil {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, passes, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when a username is unknown, so that the answer takes as long as
// for a known one and does not tell which usernames exist.
var dummyHash = func() string {
	h, err := HashPassword("carepath-dummy-password")
	if err != nil {
		panic(err)
	}
	return h
}()

// TokenPrefix starts every Carepath API token, so that secret scanners and people recognise one.
const TokenPrefix = "cpt_"

// newSecret returns a random secret of 32 bytes, base64url-encoded, after prefix.
func newSecret(prefix string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("identity: unable to make a secret: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// hashSecret is how tokens and session ids are stored: the secrets have 256 bits of entropy, so a
// plain SHA-256 is enough and lets a lookup use an index.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
