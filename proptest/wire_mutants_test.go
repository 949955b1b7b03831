package proptest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
)

// responseFilter rewrites what a server sends on one connection: each
// response (a line with its literals) goes through rewrite, which returns
// the bytes to forward now; it may hold responses back and release them
// from flush, which the middleman calls when the server has been quiet for
// a moment.
type responseFilter interface {
	rewrite(ev wireEvent, raw string) []string
	flush() []string
}

// rewriter makes the filter of a new connection.
type rewriter func() responseFilter

// quietPeriod is how long the middleman waits before flushing held
// responses.
const quietPeriod = 30 * time.Millisecond

// runMiddleman forwards client bytes to the server unchanged and server
// responses to the client through a new filter, until both sides close.
func runMiddleman(client, server net.Conn, mk rewriter) {
	f := mk()
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(server, client)
		server.Close()
	}()
	type unit struct {
		ev  wireEvent
		raw string
		// compressed is set for the server's bytes after a COMPRESS
		// OK: they are forwarded as they are (mutants rewrite
		// uncompressed responses only).
		compressed bool
	}
	units := make(chan unit)
	go func() {
		defer close(units)
		br := bufio.NewReader(server)
		for {
			raw, err := readRawResponse(br)
			if err != nil {
				return
			}
			ev := readWireEvent(bufio.NewReader(strings.NewReader(raw)))
			units <- unit{ev: ev, raw: raw}
			if ev.tag != "*" && ev.status == "OK" && ev.text == "DEFLATE active" {
				buf := make([]byte, 32<<10)
				for {
					n, err := br.Read(buf)
					if n > 0 {
						units <- unit{raw: string(buf[:n]), compressed: true}
					}
					if err != nil {
						return
					}
				}
			}
		}
	}()
	write := func(out []string) {
		for _, b := range out {
			client.Write([]byte(b))
		}
	}
	for {
		select {
		case u, ok := <-units:
			if !ok {
				write(f.flush())
				client.Close()
				<-done
				return
			}
			if u.compressed {
				write(f.flush())
				write([]string{u.raw})
				continue
			}
			write(f.rewrite(u.ev, u.raw))
		case <-time.After(quietPeriod):
			write(f.flush())
		}
	}
}

// readRawResponse reads one response with its literals, byte for byte.
func readRawResponse(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return "", err
		}
		n, _, ok := literalAt(strings.TrimRight(line, "\r\n"))
		if !ok {
			return b.String(), nil
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		b.Write(buf)
	}
}

// filterFunc is a stateless filter.
type filterFunc func(ev wireEvent, raw string) []string

func (f filterFunc) rewrite(ev wireEvent, raw string) []string { return f(ev, raw) }
func (f filterFunc) flush() []string                           { return nil }

// reorderFilter holds a tagged completion that late matches back and sends
// it after the next tagged response, if one comes before the server goes
// quiet: tags are then answered out of order.
type reorderFilter struct {
	late func(ev wireEvent) bool
	held []string
}

func (r *reorderFilter) rewrite(ev wireEvent, raw string) []string {
	switch {
	case len(r.held) == 0 && ev.tag != "*" && ev.tag != "+" && r.late(ev):
		r.held = []string{raw}
		return nil
	case len(r.held) > 0 && ev.tag != "*" && ev.tag != "+":
		out := append([]string{raw}, r.held...)
		r.held = nil
		return out
	case len(r.held) > 0:
		r.held = append(r.held, raw)
		return nil
	}
	return []string{raw}
}

func (r *reorderFilter) flush() []string {
	out := r.held
	r.held = nil
	return out
}

// wireMutant is a deliberately broken server: the real one behind a
// middleman that rewrites its responses.
type wireMutant struct {
	name string
	// catches is the property that must report the defect.
	catches Property
	// global is the global mode of the run.
	global  fsm.Mode
	rewrite rewriter
}

func wireMutants() []wireMutant {
	stateless := func(f filterFunc) rewriter { return func() responseFilter { return f } }
	// dropClientBug swallows the tagged [CLIENTBUG] completions whose
	// text starts with prefix.
	dropClientBug := func(prefix string) rewriter {
		return stateless(func(ev wireEvent, raw string) []string {
			if ev.tag != "*" && ev.codeName() == "CLIENTBUG" && strings.HasPrefix(ev.text, prefix) {
				return nil
			}
			return []string{raw}
		})
	}
	reorder := func(late func(wireEvent) bool) rewriter {
		return func() responseFilter { return &reorderFilter{late: late} }
	}
	return []wireMutant{{
		// WildDuck (zone-eu/wildduck#684): a tagged line during IDLE ends
		// IDLE, but the IDLE tag never gets its completion.
		name: "wildduck-idle-tag-swallowed", catches: TagCompletion, global: fsm.Lenient,
		rewrite: dropClientBug("IDLE "),
	}, {
		// Every SELECT is answered twice.
		name: "select-answered-twice", catches: TagCompletion, global: fsm.Strict,
		rewrite: stateless(func(ev wireEvent, raw string) []string {
			if ev.tag != "*" && strings.Contains(ev.text, "SELECT completed") {
				return []string{raw, raw}
			}
			return []string{raw}
		}),
	}, {
		// Pipelined completions arrive out of order: a command's OK
		// comes after the completion of the command after it.
		name: "pipelined-out-of-order", catches: TagCompletion, global: fsm.Lenient,
		rewrite: reorder(func(ev wireEvent) bool { return ev.status == "OK" && strings.HasSuffix(ev.text, " completed") }),
	}, {
		// Dovecot and Cyrus (strict about IDLE): a tagged line during
		// IDLE ends IDLE with BAD, but the line's own tag is never
		// answered.
		name: "strict-idle-command-swallowed", catches: TagCompletion, global: fsm.Strict,
		rewrite: dropClientBug("Command sent during IDLE"),
	}, {
		// Lenient: the command sent during IDLE is answered before the
		// IDLE tag it ended.
		name: "idle-tag-answered-late", catches: TagCompletion, global: fsm.Lenient,
		rewrite: reorder(func(ev wireEvent) bool {
			return ev.codeName() == "CLIENTBUG" && strings.HasPrefix(ev.text, "IDLE terminated")
		}),
	}, {
		// The old server: a line whose tag could be read but whose
		// command could not (a NUL byte, garbage after the tag, or too
		// long) is answered untagged, so its tag never is; the reply is
		// not the spec's tagged one.
		name: "hostile-line-tag-lost", catches: MatchesSpec, global: fsm.Strict,
		rewrite: stateless(func(ev wireEvent, raw string) []string {
			hostile := strings.HasPrefix(ev.text, "Invalid tag or command line") || (ev.codeName() == "TOOBIG" && ev.text == "Line too long")
			if ev.tag != "*" && ev.tag != "+" && ev.status == "BAD" && hostile {
				return []string{"*" + strings.TrimPrefix(raw, ev.tag)}
			}
			return []string{raw}
		}),
	}, {
		// An acknowledged APPEND is lost: the message bodies a FETCH
		// returns vanish.
		name: "acknowledged-append-lost", catches: Durable, global: fsm.Lenient,
		rewrite: stateless(func(ev wireEvent, raw string) []string {
			if _, _, _, body, ok := fetchItems(ev); ok && body != nil && strings.Contains(strings.ToUpper(ev.line), "BODY[]") {
				return nil
			}
			return []string{raw}
		}),
	}}
}

// wireMetaCases bounds the random sequences per mutant; each mutant is
// caught well before.
const wireMetaCases = 200

// TestWireMutantsAreCaught is the wire-level meta-test: each broken server
// fails the wire property with a short shrunk counterexample naming the
// mutant's property, and the counterexample replays as a failure against
// the mutant and as a pass against the real server.
func TestWireMutantsAreCaught(t *testing.T) {
	ref := loadReference(t)
	seed := int64(metaSeed)
	if *seedFlag != 0 || envSet(envSeed) {
		seed = loadSettings(t).seed
	}
	var summary []string
	for i, mu := range wireMutants() {
		t.Run(mu.name, func(t *testing.T) {
			start := time.Now()
			opts := wireOptions()
			opts.Timeout = 300 * time.Millisecond
			cfg := &WireConfig{Name: mu.name, Factory: liveFactory(t, mu.rewrite), Reference: ref, Global: mu.global, Options: opts}
			p := wireParams(seed+int64(i), wireMetaCases)
			rep := cfg.Check(p)
			require.False(t, rep.Passed(), "the wire properties did not catch %s (seed %d)", mu.name, rep.Seed)
			ce := rep.Counterexample
			require.NotNil(t, ce)
			text := ce.Format()
			t.Logf("shrunk counterexample (%v):\n%s", time.Since(start).Round(time.Millisecond), text)
			assert.True(t, ce.Properties().Has(mu.catches), "caught by %s, expected %s", ce.Properties(), mu.catches)
			assert.LessOrEqual(t, len(ce.Sequence.Steps), 10, "shrinking left a long sequence")

			back, err := ParseWireSequence(text)
			require.NoError(t, err)
			modes := back.ModesToReplay()
			require.Len(t, modes, 1)
			assert.NotEmpty(t, cfg.Run(modes[0], back.Steps).Violations(), "the replayed counterexample passes against the mutant")
			clean := &WireConfig{Name: "server", Factory: liveFactory(t, nil), Reference: ref, Options: wireOptions()}
			w := clean.Run(modes[0], back.Steps)
			assert.Empty(t, w.Violations(), "the counterexample fails against the real server")
			summary = append(summary, fmt.Sprintf("%-30s caught by %-28s shrunk to %d steps in %v", mu.name, ce.Properties(), len(ce.Sequence.Steps), time.Since(start).Round(time.Millisecond)))
		})
	}
	t.Logf("wire mutants (seed %d):\n%s", seed, strings.Join(summary, "\n"))
}

// TestWireCoverageGateCatchesAnUnreachedOutcome is the mutant of the wire
// coverage gate: a server whose SORT never succeeds (a middleman turns its
// OK into NO) leaves "sort → ok" unexercised however many seed sessions
// try, and the gate that fails TestWireProperties below 100% names it.
func TestWireCoverageGateCatchesAnUnreachedOutcome(t *testing.T) {
	ref := loadReference(t)
	c := NewCoverage(ref)
	for _, tr := range ref.Transitions() {
		if ref.WireReachable(tr) && tr.Input != fsm.InputSort {
			c.hits[tr] = 1 // everything else is taken as covered
		}
	}
	sortFails := func() responseFilter {
		return filterFunc(func(ev wireEvent, raw string) []string {
			if ev.status == "OK" && strings.Contains(ev.line, "SORT completed") {
				return []string{strings.Replace(raw, " OK ", " NO ", 1)}
			}
			return []string{raw}
		})
	}
	runWireSeeds(t, ref, fsm.Lenient, c, 1,
		&WireConfig{Name: "sort-never-succeeds", Factory: liveFactory(t, sortFails), Reference: ref, Options: wireOptions(), Coverage: c})
	n, total := wireCoverable(ref, c)
	require.Less(t, n, total, "the gate must see a gap")
	open := strings.Join(wireOpen(ref, c), ", ")
	assert.Contains(t, open, "selected × sort → ok")
	assert.NotContains(t, open, "selected × sort → no", "the seeds reached the outcomes the mutant allows")
}
