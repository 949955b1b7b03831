package proptest

import (
	"flag"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/stretchr/testify/require"
)

// Command-line switches of this package's tests. Flags are the one kind of
// package-level variable here: the test binary sets them once, before any
// test runs, and nothing writes them afterwards.
var (
	longFlag  = flag.Bool("long", false, "run 100× more random cases (or set "+envLong+"=1)")
	seedFlag  = flag.Int64("seed", 0, "seed of the random runs; 0 picks one from the clock (or set "+envSeed+")")
	writeFlag = flag.Bool("write-counterexamples", false, "save counterexamples as testdata/*.seq (or set "+envWrite+"=1)")
)

// Environment variables that do what the flags do, for runs that cannot pass
// flags (go test ./...).
const (
	envLong  = "IMAPFSM_PROPTEST_LONG"
	envSeed  = "IMAPFSM_PROPTEST_SEED"
	envWrite = "IMAPFSM_PROPTEST_WRITE"
)

// Default sizes of a random run. A sequence has up to maxSteps steps;
// shrinking accepts at most maxShrinks smaller failing sequences, which on
// this machine takes well under a second.
const (
	defaultCases = 2000
	longFactor   = 100
	maxSteps     = 60
	maxShrinks   = 200
)

// settings are the switches as one test reads them.
type settings struct {
	long  bool
	seed  int64
	write bool
}

func loadSettings(t *testing.T) settings {
	t.Helper()
	s := settings{long: *longFlag || os.Getenv(envLong) == "1", seed: *seedFlag, write: *writeFlag || os.Getenv(envWrite) == "1"}
	if v := os.Getenv(envSeed); v != "" && s.seed == 0 {
		seed, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err, "%s must be an integer", envSeed)
		s.seed = seed
	}
	if s.seed == 0 && os.Getenv("CI") == "true" && !s.long {
		// CI replays a fixed exploration so that a submission is judged
		// on its code, not on a draw; developers' runs and soak runs
		// (-long) explore new seeds every time.
		s.seed = ciSeed
	}
	if s.seed == 0 {
		s.seed = time.Now().UnixNano()
	}
	return s
}

// ciSeed is the seed of the random runs under CI=true when none is given.
const ciSeed = 20261127

// cases is the number of random sequences per run.
func (s settings) cases() int {
	if s.long {
		return defaultCases * longFactor
	}
	return defaultCases
}

// params returns gopter parameters for a run of n sequences from seed.
func params(seed int64, n int) *gopter.TestParameters {
	p := gopter.DefaultTestParametersWithSeed(seed)
	p.MinSuccessfulTests = n
	p.MinSize = 1
	p.MaxSize = maxSteps
	p.MaxShrinkCount = maxShrinks
	return p
}

// loadReference reads the project's spec with the oracle.
func loadReference(t testing.TB) *Reference {
	t.Helper()
	ref, err := LoadReference(SpecPath)
	require.NoError(t, err, "the oracle cannot map the spec onto package fsm")
	return ref
}

// reportFailure prints a failed run's shrunk counterexample and seed, and
// saves it under testdata/ when asked to.
func reportFailure(t *testing.T, ref *Reference, rep Report, s settings) {
	t.Helper()
	if rep.Passed() {
		return
	}
	if rep.Counterexample == nil {
		t.Errorf("property failed without a counterexample (seed %d, rerun with -seed %d): status %v, labels %v, error %v",
			rep.Seed, rep.Seed, rep.Result.Status, rep.Result.Labels, rep.Result.Error)
		return
	}
	text := rep.Counterexample.Format(ref)
	t.Errorf("property falsified (seed %d; rerun with -seed %d or %s=%d). Shrunk counterexample:\n%s", rep.Seed, rep.Seed, envSeed, rep.Seed, text)
	if s.write {
		path, err := rep.Counterexample.Save(ref, "testdata")
		require.NoError(t, err)
		t.Logf("saved as %s; it is replayed by TestReplaySequenceFiles until the bug is fixed", path)
	} else {
		t.Logf("run with -write-counterexamples or %s=1 to save it under testdata/", envWrite)
	}
}

func envSet(name string) bool { _, ok := os.LookupEnv(name); return ok }
