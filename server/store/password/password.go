package password

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// MaxLen is the longest password accepted for hashing (bcrypt's limit).
const MaxLen = 72

// Argon2 parameter bounds accepted when verifying imported hashes.
const (
	maxArgonMemoryKiB = 1 << 20 // 1 GiB
	maxArgonTime      = 32
	maxArgonThreads   = 64
	maxArgonKeyLen    = 128
)

var (
	// ErrMismatch means the password does not match the hash.
	ErrMismatch = errors.New("password: mismatch")
	// ErrUnsupported means the hash is in no recognised format or has
	// parameters out of bounds.
	ErrUnsupported = errors.New("password: unsupported hash")
	// ErrInvalid means the password cannot be hashed (empty or longer than
	// MaxLen bytes).
	ErrInvalid = errors.New("password: empty or too long")
)

// Hasher hashes with bcrypt at Cost and verifies bcrypt and argon2id hashes,
// remembering recent successful verifications in a bounded cache (see
// [CacheOptions]). It is safe for concurrent use.
type Hasher struct {
	cost  int
	dummy []byte
	cache *verifiedCache // nil: disabled
}

// New returns a Hasher for the bcrypt cost (bcrypt.MinCost..bcrypt.MaxCost;
// 0 means bcrypt.DefaultCost) with the default cache of verified
// credentials.
func New(cost int) (*Hasher, error) {
	return NewWithCache(cost, CacheOptions{})
}

// NewWithCache is New with the given cache bounds; CacheOptions{Size: -1}
// disables the cache.
func NewWithCache(cost int, cache CacheOptions) (*Hasher, error) {
	h, err := newHasher(cost)
	if err != nil {
		return nil, err
	}
	h.cache = newVerifiedCache(cache)
	return h, nil
}

// PurgeCache forgets every cached verification (for example after an
// administrator changed passwords outside this process).
func (h *Hasher) PurgeCache() {
	if h.cache != nil {
		h.cache.purge()
	}
}

func newHasher(cost int) (*Hasher, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("password: bcrypt cost %d out of range", cost)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("imapfsm dummy password"), cost)
	if err != nil {
		return nil, err
	}
	return &Hasher{cost: cost, dummy: dummy}, nil
}

// Cost returns the bcrypt cost of new hashes.
func (h *Hasher) Cost() int { return h.cost }

// Hash returns the bcrypt hash of pw.
func (h *Hasher) Hash(pw string) (string, error) {
	if pw == "" || len(pw) > MaxLen {
		return "", ErrInvalid
	}
	b, err := bcrypt.GenerateFromPassword([]byte(pw), h.cost)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Verify checks pw against a bcrypt or argon2id hash. It returns nil on a
// match, ErrMismatch on a mismatch and ErrUnsupported for a hash it cannot
// evaluate. A match found in the cache of recent verifications returns at
// once; a mismatch always costs a full verification.
func (h *Hasher) Verify(hash, pw string) error {
	if h.cache == nil {
		return h.verify(hash, pw)
	}
	k := h.cache.key(hash, pw)
	if h.cache.hit(k) {
		return nil
	}
	if err := h.verify(hash, pw); err != nil {
		return err
	}
	h.cache.add(k)
	return nil
}

func (h *Hasher) verify(hash, pw string) error {
	switch {
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		if len(pw) > MaxLen {
			// Compare anyway to keep the time class, then refuse.
			_ = bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw[:MaxLen]))
			return ErrMismatch
		}
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw))
		switch {
		case err == nil:
			return nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return ErrMismatch
		default:
			return fmt.Errorf("%w: %v", ErrUnsupported, err)
		}
	case strings.HasPrefix(hash, "$argon2id$"):
		p, err := parseArgon2id(hash)
		if err != nil {
			return err
		}
		got := argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
		if subtle.ConstantTimeCompare(got, p.key) == 1 {
			return nil
		}
		return ErrMismatch
	}
	return ErrUnsupported
}

// VerifyDummy spends the time of one bcrypt verification at the hasher's
// cost and always returns ErrMismatch. Call it for unknown accounts.
func (h *Hasher) VerifyDummy(pw string) error {
	if len(pw) > MaxLen {
		pw = pw[:MaxLen]
	}
	_ = bcrypt.CompareHashAndPassword(h.dummy, []byte(pw))
	return ErrMismatch
}

// CheckHash reports whether hash is in a format Verify can evaluate, with
// parameters in bounds. Use it before storing an imported hash.
func CheckHash(hash string) error {
	switch {
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil || cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
			return ErrUnsupported
		}
		return nil
	case strings.HasPrefix(hash, "$argon2id$"):
		_, err := parseArgon2id(hash)
		return err
	}
	return ErrUnsupported
}

type argonParams struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// parseArgon2id parses "$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>" with
// unpadded standard base64 for salt and hash (the PHC string format).
func parseArgon2id(s string) (argonParams, error) {
	var p argonParams
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v=19" {
		return p, ErrUnsupported
	}
	seen := 0
	for kv := range strings.SplitSeq(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, ErrUnsupported
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, ErrUnsupported
		}
		switch k {
		case "m":
			p.memory = uint32(n)
			seen |= 1
		case "t":
			p.time = uint32(n)
			seen |= 2
		case "p":
			if n > 255 {
				return p, ErrUnsupported
			}
			p.threads = uint8(n)
			seen |= 4
		default:
			return p, ErrUnsupported
		}
	}
	if seen != 7 || p.time == 0 || p.time > maxArgonTime || p.threads == 0 || p.threads > maxArgonThreads ||
		p.memory < 8*uint32(p.threads) || p.memory > maxArgonMemoryKiB {
		return p, ErrUnsupported
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return p, ErrUnsupported
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > maxArgonKeyLen {
		return p, ErrUnsupported
	}
	return p, nil
}
