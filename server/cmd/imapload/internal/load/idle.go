package load

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imapfsm/imapfsm/server/cmd/imapload/internal/imapc"
)

var idleMix = &Mix{
	Name: "idle",
	Summary: "IDLE fan-out: --idlers clients LOGIN, SELECT and IDLE; one more client APPENDs, waits until every " +
		"idler has seen the new EXISTS, and repeats; PUSH is the delay from the APPEND completion to each EXISTS " +
		"(an EXISTS that arrives first counts as 0) (figure: PUSH p99)",
	Commands: []Command{Append, Push},
	Headline: Append,
	run:      runIdle,
}

// idler is one IDLE client of the idle mix.
type idler struct {
	c   *imapc.Conn
	tag string
	// arrival is the time of the first EXISTS of the current round
	// (UnixNano), 0 until then.
	arrival atomic.Int64
}

// fanout is the state one APPEND round shares with the idlers.
type fanout struct {
	pending atomic.Int64
	done    atomic.Pointer[chan struct{}]
}

func (f *fanout) arrived() {
	if f.pending.Add(-1) == 0 {
		if ch := f.done.Load(); ch != nil {
			close(*ch)
		}
	}
}

func runIdle(r *run) ([]*worker, error) {
	cfg := r.cfg
	idlers := make([]*idler, cfg.Idlers)
	var fo fanout
	start := time.Now()
	// Connect the idlers with bounded parallelism: a burst of thousands of
	// simultaneous logins would measure the server's accept backlog.
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var setupErr atomic.Pointer[error]
	for i := range idlers {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			id, err := r.startIdler()
			if err != nil {
				err = fmt.Errorf("idler %d: %w", i, err)
				setupErr.CompareAndSwap(nil, &err)
				return
			}
			idlers[i] = id
		})
	}
	wg.Wait()
	closeAll := func() {
		for _, id := range idlers {
			if id != nil {
				id.c.Close()
			}
		}
	}
	if p := setupErr.Load(); p != nil {
		closeAll()
		return nil, *p
	}
	r.log.Info("idlers ready", "idlers", len(idlers), "took", time.Since(start).Round(time.Millisecond).String())

	// Each idler reads pushed responses until its connection is closed.
	var readers sync.WaitGroup
	for _, id := range idlers {
		readers.Go(func() { id.read(&fo) })
	}

	w := r.newWorker()
	r.begin()
	app, err := r.dial()
	if err == nil {
		_, err = app.Login(cfg.User, cfg.Password)
	}
	if err != nil {
		closeAll()
		readers.Wait()
		return nil, fmt.Errorf("appender: %w", err)
	}
	w.conn = app
	for r.claim() {
		for _, id := range idlers {
			id.arrival.Store(0)
		}
		ch := make(chan struct{})
		fo.pending.Store(int64(len(idlers)))
		fo.done.Store(&ch)
		var okAt time.Time
		err := w.op(Append, func() error {
			_, err := app.Append(cfg.Mailbox, "", r.message())
			okAt = time.Now()
			return err
		})
		if err != nil {
			break
		}
		timer := time.NewTimer(cfg.PushTimeout)
		select {
		case <-ch:
		case <-timer.C:
		}
		timer.Stop()
		missing := 0
		for _, id := range idlers {
			at := id.arrival.Load()
			if at == 0 {
				missing++
				continue
			}
			w.stats[Push].OK++
			w.stats[Push].Latency.Record(time.Unix(0, at).Sub(okAt))
		}
		if missing > 0 {
			w.stats[Push].Errors += uint64(missing)
			r.noteError(Push, imapc.Verifyf("%d of %d idlers saw no EXISTS within %s", missing, len(idlers), cfg.PushTimeout))
			break
		}
		r.ops.Add(uint64(len(idlers)))
		r.iterations.Add(1)
	}
	w.close()
	// End IDLE politely on every idler: the reader sees the tagged OK and
	// returns.
	for _, id := range idlers {
		id.c.NetConn().SetWriteDeadline(time.Now().Add(cfg.Timeout))
		id.c.Sent("a0", "LOGOUT")
		if _, err := id.c.NetConn().Write([]byte("DONE\r\na0 LOGOUT\r\n")); err != nil {
			id.c.Close()
		}
	}
	doneReading := make(chan struct{})
	go func() { readers.Wait(); close(doneReading) }()
	select {
	case <-doneReading:
	case <-time.After(cfg.Timeout):
		closeAll()
		<-doneReading
	}
	return []*worker{w}, nil
}

// startIdler connects, logs in, selects the mailbox and enters IDLE.
func (r *run) startIdler() (*idler, error) {
	c, err := r.dial()
	if err != nil {
		return nil, err
	}
	if _, err := c.Login(r.cfg.User, r.cfg.Password); err != nil {
		c.Close()
		return nil, err
	}
	res, err := c.Expect("SELECT " + imapc.Quote(r.cfg.Mailbox))
	if err == nil {
		var exists uint32
		err = verifySelect(res, &exists)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	tag, err := c.Idle()
	if err != nil {
		c.Close()
		return nil, err
	}
	return &idler{c: c, tag: tag}, nil
}

// read records the arrival of each EXISTS until the connection ends.
func (id *idler) read(fo *fanout) {
	defer id.c.Close()
	for {
		resp, err := id.c.Read()
		if err != nil {
			return
		}
		if _, kw, ok := resp.Number(); ok && kw == "EXISTS" {
			if id.arrival.CompareAndSwap(0, time.Now().UnixNano()) {
				fo.arrived()
			}
			continue
		}
		if !resp.Untagged() && !resp.Continuation() {
			// The completion of IDLE or of the final LOGOUT.
			if strings.HasPrefix(resp.Line, "a0 ") {
				return
			}
		}
	}
}
