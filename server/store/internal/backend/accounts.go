package backend

import (
	"errors"
	"fmt"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/password"
)

// NewAccountHash checks the arguments of [store.Accounts.CreateUser] and
// returns the hash to store for the new account: the name must pass
// [store.ValidateUserName], and the password must be one h can hash, else
// the error wraps [store.ErrInvalidPassword].
func NewAccountHash(h *password.Hasher, name, pw string) (string, error) {
	if err := store.ValidateUserName(name); err != nil {
		return "", err
	}
	return HashPassword(h, pw)
}

// CheckImportedAccount checks the arguments of
// [store.Accounts.CreateUserWithHash]: the name must pass
// [store.ValidateUserName], and the hash must be one [password.CheckHash]
// accepts, else the error wraps [store.ErrInvalidPassword].
func CheckImportedAccount(name, hash string) error {
	if err := store.ValidateUserName(name); err != nil {
		return err
	}
	if err := password.CheckHash(hash); err != nil {
		return fmt.Errorf("%w: %v", store.ErrInvalidPassword, err)
	}
	return nil
}

// HashPassword hashes a new password with h, as
// [store.Accounts.SetPassword] stores it; a password h refuses yields an
// error wrapping [store.ErrInvalidPassword].
func HashPassword(h *password.Hasher, pw string) (string, error) {
	hash, err := h.Hash(pw)
	if err != nil {
		return "", fmt.Errorf("%w: %v", store.ErrInvalidPassword, err)
	}
	return hash, nil
}

// CheckLogin decides an [store.Accounts.Authenticate] attempt once the
// backend has looked the account up: found tells whether it exists and
// hash is its stored password hash. It returns nil if pw matches, and an
// error wrapping [store.ErrAuthFailed] otherwise. For an unknown account it
// verifies pw against h's dummy hash first, so that the answer takes the
// same time class as a wrong password and does not reveal which it was.
func CheckLogin(h *password.Hasher, hash string, found bool, pw string) error {
	if !found {
		_ = h.VerifyDummy(pw)
		return store.ErrAuthFailed
	}
	if err := h.Verify(hash, pw); err != nil {
		if errors.Is(err, password.ErrMismatch) {
			return store.ErrAuthFailed
		}
		return fmt.Errorf("%w: %v", store.ErrAuthFailed, err)
	}
	return nil
}
