package server

import (
	"fmt"
	"io"
	"sort"
	"sync/atomic"

	"github.com/imapfsm/imapfsm/fsm"
)

// Metrics counts what the server does. All methods are safe for concurrent
// use. WritePrometheus renders the counters in the Prometheus text format.
type Metrics struct {
	connections     atomic.Int64
	connectionsOpen atomic.Int64
	refused         atomic.Int64
	commands        [fsm.NumInputs]atomic.Int64
	quirks          [fsm.NumQuirks]atomic.Int64
	badReplies      atomic.Int64
	authFailures    atomic.Int64
	authThrottled   atomic.Int64
	userLimited     atomic.Int64
	timeouts        atomic.Int64
	compressed      atomic.Int64
	notifyOverflows atomic.Int64
}

// Connections is the number of connections accepted since start.
func (m *Metrics) Connections() int64 { return m.connections.Load() }

// OpenConnections is the number of connections open now.
func (m *Metrics) OpenConnections() int64 { return m.connectionsOpen.Load() }

// Commands is how many times input in reached a decision.
func (m *Metrics) Commands(in fsm.Input) int64 { return m.commands[in].Load() }

// QuirkHits is how many times quirk q was handled.
func (m *Metrics) QuirkHits(q fsm.Quirk) int64 { return m.quirks[q].Load() }

// BadReplies is the number of BAD completions sent.
func (m *Metrics) BadReplies() int64 { return m.badReplies.Load() }

// AuthFailures is the number of failed authentication attempts.
func (m *Metrics) AuthFailures() int64 { return m.authFailures.Load() }

// AuthThrottled is the number of authentication attempts refused because
// their address was over Config.MaxAuthFailuresPerIP.
func (m *Metrics) AuthThrottled() int64 { return m.authThrottled.Load() }

// UserLimited is the number of logins refused by
// Config.MaxConnectionsPerUser.
func (m *Metrics) UserLimited() int64 { return m.userLimited.Load() }

// Timeouts is the number of sessions closed because a command did not
// arrive in time (inactivity or the per-command deadline).
func (m *Metrics) Timeouts() int64 { return m.timeouts.Load() }

// CompressedSessions is the number of sessions that turned on COMPRESS
// DEFLATE (RFC 4978).
func (m *Metrics) CompressedSessions() int64 { return m.compressed.Load() }

// NotifyOverflows is the number of NOTIFY sets dropped with
// NOTIFICATIONOVERFLOW (Config.MaxPendingNotifications).
func (m *Metrics) NotifyOverflows() int64 { return m.notifyOverflows.Load() }

// WritePrometheus writes every counter in the Prometheus text exposition
// format.
func (m *Metrics) WritePrometheus(w io.Writer) error {
	var err error
	p := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, args...)
		}
	}
	p("# HELP imapfsm_connections_total Connections accepted.\n# TYPE imapfsm_connections_total counter\nimapfsm_connections_total %d\n", m.connections.Load())
	p("# HELP imapfsm_connections_open Connections open now.\n# TYPE imapfsm_connections_open gauge\nimapfsm_connections_open %d\n", m.connectionsOpen.Load())
	p("# HELP imapfsm_connections_refused_total Connections refused by limits.\n# TYPE imapfsm_connections_refused_total counter\nimapfsm_connections_refused_total %d\n", m.refused.Load())
	p("# HELP imapfsm_bad_replies_total BAD completions sent.\n# TYPE imapfsm_bad_replies_total counter\nimapfsm_bad_replies_total %d\n", m.badReplies.Load())
	p("# HELP imapfsm_auth_failures_total Failed authentication attempts.\n# TYPE imapfsm_auth_failures_total counter\nimapfsm_auth_failures_total %d\n", m.authFailures.Load())
	p("# HELP imapfsm_auth_throttled_total Authentication attempts refused by the per-address failure limit.\n# TYPE imapfsm_auth_throttled_total counter\nimapfsm_auth_throttled_total %d\n", m.authThrottled.Load())
	p("# HELP imapfsm_user_limited_total Logins refused by the per-account session limit.\n# TYPE imapfsm_user_limited_total counter\nimapfsm_user_limited_total %d\n", m.userLimited.Load())
	p("# HELP imapfsm_timeouts_total Sessions closed by a read timeout.\n# TYPE imapfsm_timeouts_total counter\nimapfsm_timeouts_total %d\n", m.timeouts.Load())
	p("# HELP imapfsm_compressed_sessions_total Sessions that turned on COMPRESS DEFLATE.\n# TYPE imapfsm_compressed_sessions_total counter\nimapfsm_compressed_sessions_total %d\n", m.compressed.Load())
	p("# HELP imapfsm_notify_overflows_total NOTIFY sets dropped with NOTIFICATIONOVERFLOW.\n# TYPE imapfsm_notify_overflows_total counter\nimapfsm_notify_overflows_total %d\n", m.notifyOverflows.Load())
	p("# HELP imapfsm_inputs_total Inputs decided by the session machine, by input.\n# TYPE imapfsm_inputs_total counter\n")
	for in := fsm.Input(0); in < fsm.NumInputs; in++ {
		if n := m.commands[in].Load(); n > 0 {
			p("imapfsm_inputs_total{input=%q} %d\n", in.String(), n)
		}
	}
	p("# HELP imapfsm_quirk_hits_total Client quirks handled, by quirk id.\n# TYPE imapfsm_quirk_hits_total counter\n")
	var names []string
	hits := map[string]int64{}
	for q := fsm.Quirk(1); q < fsm.NumQuirks; q++ {
		names = append(names, q.String())
		hits[q.String()] = m.quirks[q].Load()
	}
	sort.Strings(names)
	for _, n := range names {
		p("imapfsm_quirk_hits_total{quirk=%q} %d\n", n, hits[n])
	}
	return err
}
