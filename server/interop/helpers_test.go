package interop_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server"
	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

const (
	testUser     = "demo"
	testPassword = "demo"
	// notYet is the text the server answers for commands still being
	// implemented.
	notYet = "not available yet"
)

// testServer is an in-process server on a free loopback port.
type testServer struct {
	addr  string
	dir   string
	store *boltstore.Store
}

type serverOption func(*server.Config)

func withTLS(cfg *tls.Config) serverOption {
	return func(c *server.Config) { c.TLSConfig = cfg }
}

// startServer opens a store in dataDir (a new temporary directory when
// empty), creates the test account and serves it until the test ends.
func startServer(t *testing.T, dataDir string, opts ...serverOption) *testServer {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	st, err := boltstore.Open(dataDir, boltstore.Options{Options: store.Options{Analyzer: mailmsg.Analyze, BcryptCost: 4}})
	require.NoError(t, err)
	require.NoError(t, st.CreateUser(context.Background(), testUser, testPassword))
	cfg := server.Config{
		Store:             st,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		AllowInsecureAuth: true,
		AuthFailureDelay:  -1,
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.New(cfg)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		require.ErrorIs(t, <-served, server.ErrServerClosed)
		require.NoError(t, st.Close())
	})
	return &testServer{addr: l.Addr().String(), dir: dataDir, store: st}
}

// appendDirect stores a message through the store, for tests that must not
// depend on the server's APPEND.
func (s *testServer) appendDirect(t *testing.T, mailbox, body string, flags ...string) {
	t.Helper()
	ctx := context.Background()
	u, err := s.store.OpenUser(ctx, testUser)
	require.NoError(t, err)
	_, err = u.Append(ctx, mailbox, store.NewMessage{Flags: flags, Body: strings.NewReader(body)})
	require.NoError(t, err)
}

// skipIfNotYet skips the test when err is the server's answer for a command
// that is not implemented yet.
func skipIfNotYet(t *testing.T, command string, err error) {
	t.Helper()
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Code == imap.ResponseCodeCannot && strings.Contains(ie.Text, notYet) {
		t.Skipf("%s is not implemented by the server yet (NO [CANNOT] %s)", command, ie.Text)
	}
	if err != nil && strings.Contains(err.Error(), notYet) {
		t.Skipf("%s is not implemented by the server yet: %v", command, err)
	}
}

// rawConn is a line-oriented client for tests that need exact bytes.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	require.NoError(t, nc.SetDeadline(time.Now().Add(20*time.Second)))
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *rawConn) write(s string) {
	c.t.Helper()
	_, err := io.WriteString(c.nc, s)
	require.NoError(c.t, err)
}

func (c *rawConn) line() string {
	c.t.Helper()
	l, err := c.br.ReadString('\n')
	require.NoError(c.t, err, "partial line %q", l)
	return l
}

// until reads lines up to and including the tagged completion of tag and
// returns them all.
func (c *rawConn) until(tag string) []string {
	c.t.Helper()
	var lines []string
	for {
		l := c.line()
		lines = append(lines, l)
		if strings.HasPrefix(l, tag+" ") {
			return lines
		}
	}
}

// selfSigned returns a server TLS config with a fresh certificate for
// 127.0.0.1.
func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "interop test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}
