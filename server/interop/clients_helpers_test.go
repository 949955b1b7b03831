package interop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server"
	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

// transport is how an external client reaches the server.
type transport string

const (
	plainText transport = "plain"    // no encryption
	startTLS  transport = "starttls" // STARTTLS on the plaintext port
	tlsDirect transport = "tls"      // implicit TLS (port 993 style)
)

// clientRun is one configuration an external client is run in: the quirk
// mode of the whole server and the transport.
type clientRun struct {
	mode fsm.Mode
	tr   transport
}

func (r clientRun) name() string {
	m := "lenient"
	if r.mode == fsm.Strict {
		m = "strict"
	}
	return m + "/" + string(r.tr)
}

// clientRuns are the configurations every external client test covers:
// both quirk modes, and every transport at least once.
var clientRuns = []clientRun{
	{fsm.Lenient, plainText},
	{fsm.Strict, startTLS},
	{fsm.Strict, tlsDirect},
}

// clientServer is an in-process server for external clients: a plaintext
// listener offering STARTTLS and an implicit-TLS listener, with a
// certificate for 127.0.0.1 and localhost whose PEM is in caFile, so that
// clients verify it instead of disabling verification.
type clientServer struct {
	plainAddr, tlsAddr string
	caFile             string
	store              *boltstore.Store
}

// port returns the port a client of transport tr connects to.
func (s *clientServer) port(tr transport) string {
	addr := s.plainAddr
	if tr == tlsDirect {
		addr = s.tlsAddr
	}
	_, port, _ := strings.Cut(addr, ":")
	return port
}

// startClientServer serves a fresh store holding the test account with
// every quirk in mode.
func startClientServer(t *testing.T, mode fsm.Mode) *clientServer {
	t.Helper()
	dir := t.TempDir()
	st, err := boltstore.Open(filepath.Join(dir, "data"), boltstore.Options{Options: store.Options{Analyzer: mailmsg.Analyze, BcryptCost: 4}})
	require.NoError(t, err)
	require.NoError(t, st.CreateUser(context.Background(), testUser, testPassword))
	tlsCfg, caFile := certFiles(t, dir)
	srv, err := server.New(server.Config{
		Store:             st,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		AllowInsecureAuth: true,
		AuthFailureDelay:  -1,
		TLSConfig:         tlsCfg,
		Modes:             fsm.NewModes(mode),
	})
	require.NoError(t, err)
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 2)
	go func() { served <- srv.Serve(pl) }()
	go func() { served <- srv.ServeTLS(tl) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		require.ErrorIs(t, <-served, server.ErrServerClosed)
		require.ErrorIs(t, <-served, server.ErrServerClosed)
		require.NoError(t, st.Close())
	})
	return &clientServer{plainAddr: pl.Addr().String(), tlsAddr: tl.Addr().String(), caFile: caFile, store: st}
}

// certFiles makes a self-signed certificate for 127.0.0.1 and localhost and
// writes it as PEM into dir; clients are given that file as their trusted
// CA.
func certFiles(t *testing.T, dir string) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	caFile := filepath.Join(dir, "cert.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, caFile
}

// seed stores testMessage(i) (every fifth one mimeMessage(i)) for i in
// [first, first+n) in mailbox, with flags
// chosen by flagsOf, and returns the messages.
func (s *clientServer) seed(t *testing.T, mailbox string, first, n int, flagsOf func(i int) []string) map[int]string {
	t.Helper()
	ctx := context.Background()
	u, err := s.store.OpenUser(ctx, testUser)
	require.NoError(t, err)
	if mailbox != "INBOX" {
		if _, err := u.Mailbox(ctx, mailbox); err != nil {
			_, err := u.CreateMailbox(ctx, mailbox, 0)
			require.NoError(t, err)
		}
	}
	out := map[int]string{}
	for i := first; i < first+n; i++ {
		body := testMessage(i)
		if i%5 == 4 {
			body = mimeMessage(i)
		}
		var flags []string
		if flagsOf != nil {
			flags = flagsOf(i)
		}
		_, err := u.Append(ctx, mailbox, store.NewMessage{Flags: flags, Body: strings.NewReader(body)})
		require.NoError(t, err)
		out[i] = body
	}
	return out
}

// mimeMessage returns a multipart/mixed message (an alternative of plain
// and HTML text, a binary attachment, 8-bit UTF-8 text and an encoded-word
// subject) carrying the generated Message-ID of number i, so that
// messageNumber finds it.
func mimeMessage(i int) string {
	return strings.Join([]string{
		"From: =?UTF-8?B?SsO2cmc=?= <jorg@example.org>",
		"To: Team: a@example.org, \"B, Bee\" <b@example.org>;",
		"Subject: =?ISO-8859-1?Q?caf=E9?= " + strings.Repeat("x", i%3),
		"Date: Tue, 05 Mar 2024 10:00:00 +0100",
		"Message-ID: <gen-" + strconv.Itoa(i) + "@example.org>",
		"MIME-Version: 1.0",
		"Content-Type: multipart/mixed; boundary=\"outer\"",
		"",
		"--outer",
		"Content-Type: multipart/alternative; boundary=\"alt\"",
		"",
		"--alt",
		"Content-Type: text/plain; charset=utf-8",
		"Content-Transfer-Encoding: 8bit",
		"",
		"Grüße, café, 日本語 " + strconv.Itoa(i),
		"--alt",
		"Content-Type: text/html; charset=utf-8",
		"Content-Transfer-Encoding: quoted-printable",
		"",
		"<p>Gr=C3=BC=C3=9Fe</p>",
		"--alt--",
		"", // offlineimap's parser writes this line when it is missing
		"--outer",
		"Content-Type: application/octet-stream; name=\"data.bin\"",
		"Content-Disposition: attachment; filename=\"data.bin\"",
		"Content-Transfer-Encoding: base64",
		"",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v",
		"--outer--",
		"",
	}, "\r\n")
}

// crlf converts a file written by a client with LF line endings back to
// the CRLF form the server holds.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}
