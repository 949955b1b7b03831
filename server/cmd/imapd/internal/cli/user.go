package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/imapfsm/imapfsm/server/store"
)

// maxPasswordLine bounds the password line read from standard input.
const maxPasswordLine = 4096

func runUser(ctx context.Context, args []string, env Env) error {
	const synopsis = "user add|passwd|del|list --data DIR [NAME]"
	const description = `Manages accounts.

  add NAME     create an account with the default mailboxes; the password is
               the first line of standard input
  passwd NAME  replace the password of an account, read the same way
  del NAME     delete an account with all its mailboxes and messages
  list         print every account name, one a line`
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlags("user", synopsis, description, env.Stdout)
		if len(args) > 0 {
			if _, err := parseArgs(fs, args); err != nil {
				return err
			}
		}
		return usageErr("user: want a subcommand: add, passwd, del or list")
	}
	sub := args[0]
	var needName bool
	switch sub {
	case "add", "passwd", "del":
		needName = true
	case "list":
	default:
		return usageErr("user: unknown subcommand %q; want add, passwd, del or list", sub)
	}
	name := "user " + sub
	syn := name + " --data DIR NAME"
	if !needName {
		syn = name + " --data DIR"
	}
	fs := newFlags(name, syn, description, env.Stdout)
	data := dataFlag(fs, "")
	storeURL := storeFlag(fs)
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if needName {
		err = wantArgs(fs, pos, "NAME")
	} else {
		err = wantArgs(fs, pos)
	}
	if err != nil {
		return err
	}
	if err := needStore(fs, *data, *storeURL); err != nil {
		return err
	}
	var user, password string
	if needName {
		user = pos[0]
		if store.ValidateUserName(user) != nil {
			return usageErr("%s: invalid user name %q: empty, too long, or containing spaces or control characters", name, user)
		}
	}
	if sub == "add" || sub == "passwd" {
		if password, err = readPassword(env.Stdin); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}

	st, err := openStoreAt(ctx, *data, *storeURL, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "add":
		err = st.CreateUser(ctx, user, password)
		if errors.Is(err, store.ErrUserExists) {
			return fmt.Errorf("user add: account %q already exists", user)
		}
	case "passwd":
		err = st.SetPassword(ctx, user, password)
	case "del":
		err = st.DeleteUser(ctx, user)
	case "list":
		var users []string
		if users, err = st.ListUsers(ctx); err == nil {
			for _, u := range users {
				fmt.Fprintln(env.Stdout, u)
			}
		}
	}
	if errors.Is(err, store.ErrNoSuchUser) {
		return fmt.Errorf("%s: no account %q", name, user)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return st.Close()
}

// readPassword reads the first line of r without its line ending. It refuses
// an empty password.
func readPassword(r io.Reader) (string, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, maxPasswordLine+2), maxPasswordLine+2)
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	if !strings.HasSuffix(line, "\n") && len(line) > maxPasswordLine {
		return "", fmt.Errorf("password line longer than %d bytes", maxPasswordLine)
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", errors.New("empty password: write the password as the first line of standard input")
	}
	return line, nil
}
