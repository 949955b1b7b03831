package load

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheckLoopback(t *testing.T) {
	ctx := context.Background()
	for _, ok := range []string{"127.0.0.1:143", "127.8.9.10:1", "[::1]:143", "localhost:143", "[::ffff:127.0.0.1]:1"} {
		assert.NoError(t, CheckLoopback(ctx, ok), ok)
	}
	for _, bad := range []string{"192.0.2.1:143", "10.0.0.1:143", "[2001:db8::1]:143", "0.0.0.0:143", ":143", "127.0.0.1", "127.0.0.1:"} {
		assert.Error(t, CheckLoopback(ctx, bad), bad)
	}
	err := CheckLoopback(ctx, "192.0.2.1:143")
	assert.ErrorContains(t, err, "not a loopback address")
}

func TestSourceAddr(t *testing.T) {
	assert.Nil(t, sourceAddr("127.0.0.1:143", 5, -1), "disabled")
	assert.Nil(t, sourceAddr("[::1]:143", 5, 50), "IPv6 target: system's choice")
	a := sourceAddr("127.0.0.1:143", 0, 50).(*net.TCPAddr)
	b := sourceAddr("127.0.0.1:143", 49, 50).(*net.TCPAddr)
	c := sourceAddr("127.0.0.1:143", 50, 50).(*net.TCPAddr)
	assert.Equal(t, "127.0.1.1", a.IP.String())
	assert.Equal(t, a.IP, b.IP, "same group")
	assert.Equal(t, "127.0.1.2", c.IP.String())
	far := sourceAddr("127.0.0.1:143", 50*254*3, 50).(*net.TCPAddr)
	assert.Equal(t, "127.0.4.1", far.IP.String())
	assert.True(t, far.IP.IsLoopback())
}
