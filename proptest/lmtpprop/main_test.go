package lmtpprop

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: every
// wire session's server is shut down and its connections closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
