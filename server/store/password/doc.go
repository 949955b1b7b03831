// Package password hashes and verifies account passwords for the mail
// stores.
//
// New passwords are hashed with bcrypt at a configurable cost. For imports
// from other systems, hashes in the PHC string format for argon2id
// ("$argon2id$v=19$m=...,t=...,p=...$salt$hash", RFC 9106 parameters) are
// verified too, with bounded parameters so a hostile hash cannot exhaust
// memory. Verification of a missing account runs against a dummy bcrypt hash
// of the same cost (see [Hasher.VerifyDummy]) so that a login attempt takes
// the same time class whether the account exists or not.
//
// bcrypt only considers the first 72 bytes of a password; this package
// refuses to hash longer passwords instead of silently truncating them.
package password
