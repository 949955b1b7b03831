package mailio

import (
	"errors"
	"time"
)

// DefaultMaxMessageSize bounds one message read from an mbox or maildir.
const DefaultMaxMessageSize = 64 << 20

// ErrTooBig is returned when a message exceeds Options.MaxMessageSize.
var ErrTooBig = errors.New("mailio: message too big")

// Message is one message read from or written to a mailbox file.
type Message struct {
	// Flags in IMAP spelling (\Seen, keywords, ...).
	Flags []string
	// InternalDate is the delivery date; zero if unknown.
	InternalDate time.Time
	// Body is the raw RFC 5322 message.
	Body []byte
}

// Progress is called after each message with the running totals.
type Progress func(messages int, bytes int64)

// Options tunes readers and writers. The zero value is usable.
type Options struct {
	// MaxMessageSize bounds one message (default DefaultMaxMessageSize).
	MaxMessageSize int
	// Progress, if set, is called after each message.
	Progress Progress
}

func (o Options) max() int {
	if o.MaxMessageSize <= 0 {
		return DefaultMaxMessageSize
	}
	return o.MaxMessageSize
}

type counter struct {
	fn       Progress
	messages int
	bytes    int64
}

func (c *counter) add(n int) {
	c.messages++
	c.bytes += int64(n)
	if c.fn != nil {
		c.fn(c.messages, c.bytes)
	}
}
