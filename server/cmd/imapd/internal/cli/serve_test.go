package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 with the
// given serial number and its key as PEM files.
func writeSelfSigned(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "imapd test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
}

// servedSerial connects with implicit TLS and returns the serial number of
// the certificate the server presented, after reading the greeting.
func servedSerial(t *testing.T, addr string) int64 {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(line, "* OK"), line)
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// syncBuffer is a bytes.Buffer safe for the server's logger and the test.
type syncBuffer struct {
	ch chan struct{}
	b  bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{ch: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.ch <- struct{}{}
	defer func() { <-s.ch }()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.ch <- struct{}{}
	defer func() { <-s.ch }()
	return s.b.String()
}

func TestServeTLSReloadMetricsAndShutdown(t *testing.T) {
	dir := t.TempDir()
	addUser(t, dir, "alice", "pw")
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeSelfSigned(t, certFile, keyFile, 1)

	signals := make(chan os.Signal, 1)
	ready := make(chan Addrs, 1)
	stderr := newSyncBuffer()
	done := make(chan int, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() {
		done <- Run(ctx, []string{"serve", "--data", dir,
			"--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0",
			"--tls-cert", certFile, "--tls-key", keyFile,
			"--metrics", "127.0.0.1:0", "--quirk", "stray-done=strict", "--log-level", "debug",
		}, Env{Stdout: io.Discard, Stderr: stderr, Signals: signals, Ready: func(a Addrs) { ready <- a }})
	}()
	var addrs Addrs
	select {
	case addrs = <-ready:
	case code := <-done:
		t.Fatalf("serve exited with %d: %s", code, stderr.String())
	case <-ctx.Done():
		t.Fatal("serve did not start")
	}

	assert.Equal(t, int64(1), servedSerial(t, addrs.IMAPS))

	// The plaintext listener offers STARTTLS and refuses plaintext logins.
	c, err := net.DialTimeout("tcp", addrs.IMAP, 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	br := bufio.NewReader(c)
	greeting, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Contains(t, greeting, "STARTTLS")
	assert.Contains(t, greeting, "LOGINDISABLED")
	c.Close()

	// SIGHUP with a broken key keeps the old certificate.
	require.NoError(t, os.WriteFile(keyFile, []byte("garbage"), 0o600))
	signals <- syscall.SIGHUP
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "certificate reload failed") }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, int64(1), servedSerial(t, addrs.IMAPS))

	// SIGHUP with a new certificate serves it to new connections.
	writeSelfSigned(t, certFile, keyFile, 2)
	signals <- syscall.SIGHUP
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "TLS certificate reloaded") }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, int64(2), servedSerial(t, addrs.IMAPS))

	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get("http://" + addrs.Metrics + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	assert.Contains(t, string(body), "imapfsm_connections_total")

	// An idle session is told BYE and the command exits 0 on SIGTERM.
	idle, err := net.DialTimeout("tcp", addrs.IMAP, 5*time.Second)
	require.NoError(t, err)
	defer idle.Close()
	require.NoError(t, idle.SetDeadline(time.Now().Add(10*time.Second)))
	ir := bufio.NewReader(idle)
	_, err = ir.ReadString('\n')
	require.NoError(t, err)
	signals <- syscall.SIGTERM
	select {
	case code := <-done:
		require.Equal(t, 0, code, stderr.String())
	case <-ctx.Done():
		t.Fatal("serve did not stop after SIGTERM")
	}
	rest, _ := io.ReadAll(ir)
	assert.Contains(t, string(rest), "* BYE")
	assert.Contains(t, stderr.String(), "imapd stopped")
}

func TestDemoCreatesAccountAndStopsOnCancel(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ready := make(chan Addrs, 1)
	done := make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	go func() {
		done <- Run(ctx, []string{"demo", "--data", dir, "--listen", "127.0.0.1:0"},
			Env{Stderr: &stderr, Signals: make(chan os.Signal), Ready: func(a Addrs) { ready <- a }})
	}()
	var addrs Addrs
	select {
	case addrs = <-ready:
	case code := <-done:
		t.Fatalf("demo exited with %d: %s", code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not start")
	}
	c, err := net.DialTimeout("tcp", addrs.IMAP, 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	br := bufio.NewReader(c)
	greeting, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.NotContains(t, greeting, "LOGINDISABLED")
	_, err = io.WriteString(c, "a1 LOGIN demo demo\r\n")
	require.NoError(t, err)
	for {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		if strings.HasPrefix(line, "a1 ") {
			assert.True(t, strings.HasPrefix(line, "a1 OK"), line)
			break
		}
	}
	c.Close()
	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code)
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop")
	}
}

// TestServeMetadataAdminFlag checks that --metadata-admin must be a URI
// (RFC 5464 3.2.1.1) and is listed in the help.
func TestServeMetadataAdminFlag(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []string{"postmaster", "not a uri: %zz"} {
		requireOneLineError(t, run(t, "", "serve", "--data", dir, "--listen", "127.0.0.1:0", "--metadata-admin", bad), ExitUsage, "want a URI")
	}
	assert.Contains(t, run(t, "", "serve", "--help").stdout, "-metadata-admin")
}
