// Package pgtest gives tests a PostgreSQL server: the one named by the
// environment variable IMAPFSM_TEST_POSTGRES (a connection URL), or else a
// throwaway cluster it starts itself with the initdb and postgres programs
// of an installed PostgreSQL (looked up on PATH and under
// /usr/lib/postgresql/*/bin). When neither is possible the tests are skipped
// with a message saying what to install, except when the environment
// variable CI is "true": then they fail, so that a CI run never passes
// without having run them.
//
// A package using it calls [Main] from TestMain, so that a cluster it
// started is stopped when the tests end, and [Schema] for a fresh schema
// per test.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable holding the connection URL of a
// PostgreSQL server the tests may use (creating and dropping schemas).
const EnvURL = "IMAPFSM_TEST_POSTGRES"

var (
	once    sync.Once
	url     string
	setup   error
	cluster *Cluster
)

// Main runs the tests and stops the cluster started for them, if any.
func Main(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		cluster.Stop()
	}
	os.Exit(code)
}

// URL returns the connection URL of the test server, starting a throwaway
// cluster on first use if IMAPFSM_TEST_POSTGRES is unset. It skips (or,
// under CI=true, fails) the test when no server can be had.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		if url = os.Getenv(EnvURL); url != "" {
			return
		}
		cluster, setup = Start()
		if setup == nil {
			url = cluster.URL
		}
	})
	if setup != nil {
		noServer(t, setup)
	}
	return url
}

// StartForTest returns the URL of IMAPFSM_TEST_POSTGRES or, when it is
// unset, starts a throwaway cluster that is stopped when the test ends. It
// is for packages that cannot use [Main]. It skips (or, under CI=true,
// fails) the test when no server can be had.
func StartForTest(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	c, err := Start()
	if err != nil {
		noServer(t, err)
	}
	t.Cleanup(c.Stop)
	return c.URL
}

func noServer(t testing.TB, err error) {
	t.Helper()
	msg := fmt.Sprintf("no PostgreSQL for this test: %s is unset and starting a throwaway cluster failed: %v "+
		"(install the Debian package postgresql, or set %s to a postgres:// URL)", EnvURL, err, EnvURL)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Schema creates a fresh, uniquely named schema on the test server and
// drops it with everything in it when the test ends. It returns the
// server URL and the schema name.
func Schema(t testing.TB) (string, string) {
	t.Helper()
	return SchemaOn(t, URL(t))
}

// SchemaOn is [Schema] on the server at u.
func SchemaOn(t testing.TB, u string) (string, string) {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+name); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Errorf("pgtest: connect for cleanup: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+name+` CASCADE`); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	return u, name
}

// Cluster is a throwaway PostgreSQL cluster in a temporary directory,
// listening on a loopback port with trust authentication.
type Cluster struct {
	URL string
	dir string
	cmd *exec.Cmd
}

// findBin returns the path of a PostgreSQL server program.
func findBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob(filepath.Join("/usr/lib/postgresql", "*", "bin", name))
	if len(matches) == 0 {
		return "", fmt.Errorf("%s not found on PATH or under /usr/lib/postgresql/*/bin", name)
	}
	return matches[len(matches)-1], nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start initialises and starts a cluster and waits until it accepts
// connections.
func Start() (*Cluster, error) {
	initdb, err := findBin("initdb")
	if err != nil {
		return nil, err
	}
	postgres, err := findBin("postgres")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "imapfsm-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	fail := func(err error) (*Cluster, error) {
		c.Stop()
		return nil, err
	}
	initAttr, serverAttr, err := procAttrs(dir)
	if err != nil {
		return fail(err)
	}
	data := filepath.Join(dir, "data")
	cmd := exec.Command(initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	cmd.SysProcAttr = initAttr
	if out, err := cmd.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v: %s", err, out))
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return fail(err)
	}
	defer logFile.Close()
	c.cmd = exec.Command(postgres, "-D", data, "-k", dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200")
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	c.cmd.SysProcAttr = serverAttr
	if err := c.cmd.Start(); err != nil {
		c.cmd = nil
		return fail(err)
	}
	c.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, c.URL)
		if err == nil {
			_ = conn.Close(ctx)
			cancel()
			return c, nil
		}
		cancel()
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			return fail(fmt.Errorf("server did not accept connections: %v; log: %s", err, log))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop shuts the cluster down (fast shutdown) and removes its directory.
func (c *Cluster) Stop() {
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- c.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = c.cmd.Process.Kill()
			<-done
		}
	}
	if c.dir != "" {
		if err := os.RemoveAll(c.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(os.Stderr, "pgtest: remove %s: %v\n", c.dir, err)
		}
	}
}
