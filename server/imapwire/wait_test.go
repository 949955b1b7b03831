package imapwire

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readCounter counts the reads that reach the connection.
type readCounter struct {
	r     io.Reader
	reads int
}

func (c *readCounter) Read(p []byte) (int, error) {
	c.reads++
	return c.r.Read(p)
}

func TestWait(t *testing.T) {
	t.Run("the command read by Wait is returned by ReadLine", func(t *testing.T) {
		src := &readCounter{r: iotest.OneByteReader(strings.NewReader("a NOOP\r\nb NOOP\r\n"))}
		d := NewDecoder(src, smallLimits())
		d.Wait()
		assert.Equal(t, 1, src.reads, "Wait reads once")
		assert.Nil(t, d.br, "Wait takes no read buffer")
		assert.Equal(t, 1, d.Buffered())
		line, err := d.ReadLine()
		require.NoError(t, err)
		assert.Equal(t, "a NOOP", string(line.Text))
		line, err = d.ReadLine()
		require.NoError(t, err)
		assert.Equal(t, "b NOOP", string(line.Text))
	})
	t.Run("a failed wait is reported by ReadLine", func(t *testing.T) {
		d := NewDecoder(strings.NewReader(""), smallLimits())
		d.Wait()
		_, err := d.ReadLine()
		assert.ErrorIs(t, err, io.EOF)
	})
	t.Run("a read error is reported by ReadLine", func(t *testing.T) {
		boom := errors.New("boom")
		d := NewDecoder(iotest.ErrReader(boom), smallLimits())
		d.Wait()
		_, err := d.ReadLine()
		assert.ErrorIs(t, err, boom)
	})
	t.Run("buffered input is not waited for", func(t *testing.T) {
		src := &readCounter{r: strings.NewReader("a NOOP\r\nb NOOP\r\n")}
		d := NewDecoder(src, smallLimits())
		_, err := d.ReadLine()
		require.NoError(t, err)
		reads := src.reads
		d.Wait()
		assert.Equal(t, reads, src.reads, "the next command is buffered")
		line, err := d.ReadLine()
		require.NoError(t, err)
		assert.Equal(t, "b NOOP", string(line.Text))
	})
	t.Run("the rest of a rejected command is skipped by ReadLine, not Wait", func(t *testing.T) {
		d := NewDecoder(strings.NewReader("a X {3+}\r\nabc\r\nb NOOP\r\n"), smallLimits())
		_, err := d.ReadLine()
		require.NoError(t, err)
		d.Wait()
		line, err := d.ReadLine()
		require.NoError(t, err)
		assert.Equal(t, "b NOOP", string(line.Text))
	})
	t.Run("Reset forgets a failed wait", func(t *testing.T) {
		d := NewDecoder(strings.NewReader(""), smallLimits())
		d.Wait()
		d.Reset(strings.NewReader("a NOOP\r\n"))
		line, err := d.ReadLine()
		require.NoError(t, err)
		assert.Equal(t, "a NOOP", string(line.Text))
	})
}
