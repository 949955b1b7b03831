package proptest

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dataMutant is a server whose responses a middleman breaks in one way that
// one data property must catch.
type dataMutant struct {
	name    string
	catches dataProperty
	// needs names a pending check (dataPending) the mutant is caught by;
	// the mutant is skipped while that check is off.
	needs string
	// mentions, when set, must be in the text of one of the violations.
	mentions string
	rewrite  func(ev wireEvent, raw string) string
}

var (
	fetchFlagsRE    = regexp.MustCompile(`^(\* \d+ FETCH \(.*FLAGS \()([^)]*)(\).*)$`)
	fetchUIDRE      = regexp.MustCompile(`^(\* \d+ FETCH \(.*UID )(\d+)(.*)$`)
	fetchModRE      = regexp.MustCompile(`^(\* \d+ FETCH \(.*MODSEQ \()(\d+)(\).*)$`)
	appendUIDRE     = regexp.MustCompile(`^(\S+ OK \[APPENDUID \d+ )(\d+)(\].*)$`)
	countRE         = regexp.MustCompile(`^\* (\d+) (EXISTS|EXPUNGE)\r\n$`)
	flagsLineRE     = regexp.MustCompile(`^(\* (?:FLAGS|OK \[PERMANENTFLAGS) \()([^)]*)(\).*)$`)
	highestModRE    = regexp.MustCompile(`^(\* OK \[HIGHESTMODSEQ )(\d+)(\].*)$`)
	systemFlagsRE   = regexp.MustCompile(`^\\`)
	modAfterFlagsRE = regexp.MustCompile(`^\* \d+ FETCH \(.*FLAGS \([^)]*\) MODSEQ \(`)
)

// rewriteNumber applies f to the number a regexp's second group matched.
func rewriteNumber(re *regexp.Regexp, raw string, f func(uint64) uint64) string {
	m := re.FindStringSubmatch(strings.TrimRight(raw, "\r\n"))
	if m == nil {
		return raw
	}
	n, err := strconv.ParseUint(m[2], 10, 64)
	if err != nil {
		return raw
	}
	return m[1] + strconv.FormatUint(f(n), 10) + m[3] + "\r\n"
}

// rewriteList applies f to the flag list a regexp's second group matched.
func rewriteList(re *regexp.Regexp, raw string, f func([]string) []string) string {
	m := re.FindStringSubmatch(strings.TrimRight(raw, "\r\n"))
	if m == nil {
		return raw
	}
	return m[1] + strings.Join(f(strings.Fields(m[2])), " ") + m[3] + "\r\n"
}

func dataMutants() []dataMutant {
	return []dataMutant{{
		// FLAGS and PERMANENTFLAGS list the system flags only: keywords
		// are used without being announced.
		name: "keywords-unannounced", catches: propFlagsAnnounced, needs: checkAnnounced,
		rewrite: func(ev wireEvent, raw string) string {
			return rewriteList(flagsLineRE, raw, func(fl []string) []string {
				var out []string
				for _, f := range fl {
					if systemFlagsRE.MatchString(f) {
						out = append(out, f)
					}
				}
				return out
			})
		},
	}, {
		// A FETCH FLAGS list names its first flag twice.
		name: "flag-listed-twice", catches: propFlagsAnnounced,
		rewrite: func(ev wireEvent, raw string) string {
			return rewriteList(fetchFlagsRE, raw, func(fl []string) []string {
				if len(fl) == 0 {
					return fl
				}
				return append([]string{fl[0]}, fl...)
			})
		},
	}, {
		// APPENDUID reports a UID given before.
		name: "appenduid-reused", catches: propUIDsAscending,
		rewrite: func(ev wireEvent, raw string) string {
			return rewriteNumber(appendUIDRE, raw, func(n uint64) uint64 { return max(n-1, 1) })
		},
	}, {
		// FETCH reports UIDs in descending order.
		name: "uids-descending", catches: propUIDsAscending,
		rewrite: func(ev wireEvent, raw string) string {
			return rewriteNumber(fetchUIDRE, raw, func(n uint64) uint64 { return 100000 - n })
		},
	}, {
		// EXPUNGE names the message after the expunged one.
		name: "expunge-off-by-one", catches: propSeqNumbers,
		rewrite: func(ev wireEvent, raw string) string {
			if m := countRE.FindStringSubmatch(raw); m != nil && m[2] == "EXPUNGE" {
				n, _ := strconv.Atoi(m[1])
				return fmt.Sprintf("* %d EXPUNGE\r\n", n+1)
			}
			return raw
		},
	}, {
		// EXISTS counts one message less.
		name: "exists-undercount", catches: propSeqNumbers,
		rewrite: func(ev wireEvent, raw string) string {
			if m := countRE.FindStringSubmatch(raw); m != nil && m[2] == "EXISTS" && m[1] != "0" {
				n, _ := strconv.Atoi(m[1])
				return fmt.Sprintf("* %d EXISTS\r\n", n-1)
			}
			return raw
		},
	}, {
		// Every MODSEQ is 1: flag changes do not move it.
		name: "modseq-frozen", catches: propModSeq,
		rewrite: func(ev wireEvent, raw string) string {
			return rewriteNumber(fetchModRE, raw, func(uint64) uint64 { return 1 })
		},
	}, {
		// HIGHESTMODSEQ is always 1, below the MODSEQs already sent.
		name: "highestmodseq-stale", catches: propModSeq, needs: checkEnableHighest,
		rewrite: func(ev wireEvent, raw string) string {
			return rewriteNumber(highestModRE, raw, func(uint64) uint64 { return 1 })
		},
	}, {
		// The FETCH responses of a FETCH command that asked for MODSEQ
		// or CHANGEDSINCE (MODSEQ after FLAGS; a STORE sends it before)
		// are lost: CHANGEDSINCE misses the changed messages.
		name: "changedsince-misses", catches: propModSeq, mentions: "CHANGEDSINCE",
		rewrite: func(ev wireEvent, raw string) string {
			if modAfterFlagsRE.MatchString(raw) {
				return ""
			}
			return raw
		},
	}, {
		// \Recent in every FETCH FLAGS, of every session.
		name: "recent-everywhere", catches: propRecentOnce,
		rewrite: func(ev wireEvent, raw string) string {
			return rewriteList(fetchFlagsRE, raw, func(fl []string) []string { return append(fl, `\Recent`) })
		},
	}, {
		// FETCH never reports \Seen.
		name: "seen-hidden", catches: propConverge,
		rewrite: func(ev wireEvent, raw string) string {
			return rewriteList(fetchFlagsRE, raw, func(fl []string) []string {
				var out []string
				for _, f := range fl {
					if !strings.EqualFold(f, `\Seen`) {
						out = append(out, f)
					}
				}
				return out
			})
		},
	}}
}

// dataMetaCases bounds the random runs per mutant; each is caught well
// before.
const dataMetaCases = 100

// TestDataMutantsAreCaught is the meta-test of the data properties: each
// mutant must fail them, caught by its own property, with a short shrunk
// case.
func TestDataMutantsAreCaught(t *testing.T) {
	seed := int64(metaSeed)
	if *seedFlag != 0 || envSet(envSeed) {
		seed = loadSettings(t).seed
	}
	var summary []string
	for i, mu := range dataMutants() {
		t.Run(mu.name, func(t *testing.T) {
			if why := dataPending[mu.needs]; why != "" {
				t.Skipf("caught by check %s, which is off until the server has the fix: %s", mu.needs, why)
			}
			start := time.Now()
			rw := mu.rewrite
			factory := liveFactory(t, func() responseFilter {
				return filterFunc(func(ev wireEvent, raw string) []string { return []string{rw(ev, raw)} })
			})
			res := checkData(t, factory, seed+int64(i), dataMetaCases, 40, notPending)
			require.False(t, res.passed, "the data properties did not catch %s in %d runs (seed %d)", mu.name, res.runs, seed+int64(i))
			assert.True(t, res.failed[mu.catches], "%s caught by %v, expected %s\n%s", mu.name, res.failed, mu.catches, res.report())
			assert.LessOrEqual(t, len(res.shrunk.Ops), 8, "shrinking left a long case:\n%s", res.report())
			if mu.mentions != "" {
				assert.True(t, slices.ContainsFunc(res.violations, func(v dataViolation) bool { return strings.Contains(v.text, mu.mentions) }),
					"no violation mentions %s:\n%s", mu.mentions, res.report())
			}
			var props []string
			for _, p := range dataProperties {
				if res.failed[p] {
					props = append(props, string(p))
				}
			}
			summary = append(summary, fmt.Sprintf("%-22s caught by %-36s in %3d runs (shrinking included), shrunk to %d ops (%v)", mu.name, strings.Join(props, ","), res.runs, len(res.shrunk.Ops), time.Since(start).Round(time.Millisecond)))
		})
	}
	t.Logf("data mutants (seed %d):\n%s", seed, strings.Join(summary, "\n"))
}
