package password

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

func argonHash(pw string, m, t uint32, p uint8) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(pw), salt, t, m, p, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestHashAndVerify(t *testing.T) {
	h, err := New(bcrypt.MinCost)
	require.NoError(t, err)
	hash, err := h.Hash("s3cret")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(hash, "$2a$04$"), hash)

	tests := []struct {
		name string
		hash string
		pw   string
		want error
	}{
		{"bcrypt match", hash, "s3cret", nil},
		{"bcrypt mismatch", hash, "s3creT", ErrMismatch},
		{"bcrypt overlong pw", hash, strings.Repeat("x", 100), ErrMismatch},
		{"argon2id match", argonHash("pw", 64, 1, 1), "pw", nil},
		{"argon2id mismatch", argonHash("pw", 64, 1, 1), "px", ErrMismatch},
		{"argon2id huge memory", "$argon2id$v=19$m=4294967295,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw", ErrUnsupported},
		{"argon2id wrong version", strings.Replace(argonHash("pw", 64, 1, 1), "v=19", "v=16", 1), "pw", ErrUnsupported},
		{"argon2i not accepted", strings.Replace(argonHash("pw", 64, 1, 1), "argon2id", "argon2i", 1), "pw", ErrUnsupported},
		{"argon2id bad base64", "$argon2id$v=19$m=64,t=1,p=1$!!!$!!!", "pw", ErrUnsupported},
		{"argon2id missing param", "$argon2id$v=19$m=64,t=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw", ErrUnsupported},
		{"plain text", "s3cret", "s3cret", ErrUnsupported},
		{"empty", "", "", ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := h.Verify(tc.hash, tc.pw)
			if tc.want == nil {
				assert.NoError(t, err)
				assert.NoError(t, CheckHash(tc.hash))
				return
			}
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

func TestHashRejects(t *testing.T) {
	h, err := New(bcrypt.MinCost)
	require.NoError(t, err)
	for _, pw := range []string{"", strings.Repeat("a", MaxLen+1)} {
		_, err := h.Hash(pw)
		assert.ErrorIs(t, err, ErrInvalid)
	}
	_, err = h.Hash(strings.Repeat("a", MaxLen))
	assert.NoError(t, err)
}

func TestNewCost(t *testing.T) {
	for _, c := range []struct {
		cost, want int
		ok         bool
	}{{0, bcrypt.DefaultCost, true}, {4, 4, true}, {3, 0, false}, {32, 0, false}} {
		h, err := New(c.cost)
		if !c.ok {
			assert.Error(t, err, c.cost)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, c.want, h.Cost())
	}
}

func TestVerifyDummy(t *testing.T) {
	h, err := New(bcrypt.MinCost)
	require.NoError(t, err)
	assert.ErrorIs(t, h.VerifyDummy("anything"), ErrMismatch)
	assert.ErrorIs(t, h.VerifyDummy(strings.Repeat("z", 200)), ErrMismatch)
}
