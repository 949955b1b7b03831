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
	const synopsis = "user add|passwd|del|list|quota --data DIR [NAME]"
	const description = `Manages accounts.

  add NAME     create an account with the default mailboxes; the password is
               the first line of standard input
  passwd NAME  replace the password of an account, read the same way
  del NAME     delete an account with all its mailboxes and messages
  list         print every account name, one a line
  quota NAME   set the limits of an account's quota with --storage SIZE
               (bytes, or with a K, M, G or T suffix of 1024 steps) and
               --messages N, 0 removing a limit; without them, print the
               limits and the usage`
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlags("user", synopsis, description, env.Stdout)
		if len(args) > 0 {
			if _, err := parseArgs(fs, args); err != nil {
				return err
			}
		}
		return usageErr("user: want a subcommand: add, passwd, del, list or quota")
	}
	sub := args[0]
	var needName bool
	switch sub {
	case "add", "passwd", "del", "quota":
		needName = true
	case "list":
	default:
		return usageErr("user: unknown subcommand %q; want add, passwd, del, list or quota", sub)
	}
	name := "user " + sub
	syn := name + " --data DIR NAME"
	if !needName {
		syn = name + " --data DIR"
	}
	if sub == "quota" {
		syn = name + " --data DIR NAME [--storage SIZE] [--messages N]"
	}
	fs := newFlags(name, syn, description, env.Stdout)
	data := dataFlag(fs, "")
	storeURL := storeFlag(fs)
	var storageFlag, messagesFlag *string
	if sub == "quota" {
		storageFlag = fs.String("storage", "", "storage `limit` of the account: bytes, or a number with a K, M, G or T suffix (500M, 2G); 0 removes it")
		messagesFlag = fs.String("messages", "", "message count `limit` of the account; 0 removes it")
	}
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
	var change quotaChange
	if sub == "quota" {
		if change, err = parseQuotaFlags(*storageFlag, *messagesFlag); err != nil {
			return usageErr("%s: %v", name, err)
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
	case "quota":
		err = runQuota(ctx, st, user, change, env.Stdout)
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
