package main

import (
	"context"
	"os"

	"github.com/imapfsm/imapfsm/server/cmd/imapd/internal/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], cli.Env{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	}))
}
