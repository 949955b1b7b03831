//go:build !linux

package pgtest

import "syscall"

// procAttrs runs initdb and the server as the current user with default
// attributes.
func procAttrs(string) (initdb, server *syscall.SysProcAttr, err error) { return nil, nil, nil }
