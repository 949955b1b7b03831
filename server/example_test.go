package server_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/imapfsm/imapfsm/server"
	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

// Example embeds the server: open a store, add an account, serve on a
// loopback listener, and shut down gracefully.
func Example() {
	dir, err := os.MkdirTemp("", "imapfsm-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := boltstore.Open(dir, boltstore.Options{Options: store.Options{Analyzer: mailmsg.Analyze, BcryptCost: 4}})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateUser(context.Background(), "alice", "secret"); err != nil {
		log.Fatal(err)
	}

	srv, err := server.New(server.Config{
		Store:             st,
		AllowInsecureAuth: true, // loopback only; use TLSConfig in production
		Logger:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	greeting, _ := r.ReadString('\n')
	fmt.Println(strings.HasPrefix(greeting, "* OK [CAPABILITY IMAP4rev2"))
	fmt.Fprint(conn, "a1 LOGIN alice secret\r\n")
	reply, _ := r.ReadString('\n')
	fmt.Println(strings.HasPrefix(reply, "a1 OK"))
	// Output:
	// true
	// true
}
