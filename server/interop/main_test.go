package interop_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves goroutines behind: every
// server, client and child process must be shut down by its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
