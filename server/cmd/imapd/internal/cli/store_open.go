package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"

	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/password"
	"github.com/imapfsm/imapfsm/server/store/pgstore"
)

// storeFlag registers --store, which selects the PostgreSQL store instead
// of the embedded one in --data.
func storeFlag(fs *flag.FlagSet) *string {
	return fs.String("store", "", "PostgreSQL store, postgres://USER@HOST/DB (for several nodes sharing one store); replaces --data")
}

// needStore checks that exactly one of --data DIR and --store URL is given
// and that the URL names PostgreSQL.
func needStore(fs *flag.FlagSet, dir, url string) error {
	switch {
	case dir == "" && url == "":
		return usageErr("%s: --data is required (or --store URL for a PostgreSQL store)", fs.Name())
	case dir != "" && url != "":
		return usageErr("%s: give --data DIR or --store URL, not both", fs.Name())
	case url != "" && !isPostgresURL(url):
		return usageErr("%s: --store: want a postgres:// or postgresql:// URL", fs.Name())
	}
	return nil
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// openStoreAt opens the PostgreSQL store at url when it is set, else the
// embedded store in dir. The PostgreSQL schema is created or migrated on
// open; log (nil: slog.Default()) receives the store's own messages.
func openStoreAt(ctx context.Context, dir, url string, log *slog.Logger) (store.Store, error) {
	return openStoreAtCache(ctx, dir, url, log, password.CacheOptions{})
}

// openStoreAtCache is openStoreAt with the given cache of verified
// credentials.
func openStoreAtCache(ctx context.Context, dir, url string, log *slog.Logger, authCache password.CacheOptions) (store.Store, error) {
	if url == "" {
		return openStoreCache(dir, authCache)
	}
	st, err := pgstore.Open(ctx, url, pgstore.Options{
		Options: store.Options{
			Analyzer:   mailmsg.Analyze,
			BcryptCost: bcryptCost,
			AuthCache:  authCache,
		},
		Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", redactURL(url), err)
	}
	return st, nil
}

// redactURL hides the password of a connection URL in messages.
func redactURL(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return url
	}
	if user, _, hasPw := strings.Cut(rest[:at], ":"); hasPw {
		return scheme + "://" + user + ":xxxxx" + rest[at:]
	}
	return url
}
