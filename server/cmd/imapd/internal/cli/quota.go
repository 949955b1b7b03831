package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/imapfsm/imapfsm/server/store"
)

// quotaChange is what "user quota" was asked to change: nil leaves a limit
// as it is, 0 removes it.
type quotaChange struct {
	storage, messages *int64
}

func (c quotaChange) none() bool { return c.storage == nil && c.messages == nil }

// parseQuotaFlags reads --storage and --messages; "" means not given.
func parseQuotaFlags(storage, messages string) (quotaChange, error) {
	var c quotaChange
	if storage != "" {
		n, err := parseSize(storage)
		if err != nil {
			return c, fmt.Errorf("--storage %q: %w", storage, err)
		}
		c.storage = &n
	}
	if messages != "" {
		n, err := strconv.ParseInt(messages, 10, 64)
		if err != nil || n < 0 {
			return c, fmt.Errorf("--messages %q: want a count, 0 or more", messages)
		}
		c.messages = &n
	}
	return c, nil
}

// sizeUnits are the suffixes of parseSize, in steps of 1024.
var sizeUnits = []struct {
	suffix string
	n      int64
}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}}

// parseSize reads a byte count: digits, optionally followed by K, M, G or
// T (powers of 1024, case-insensitive, "B" or "iB" after them allowed).
func parseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	u = strings.TrimSuffix(strings.TrimSuffix(u, "IB"), "B")
	mult := int64(1)
	for _, su := range sizeUnits {
		if rest, ok := strings.CutSuffix(u, su.suffix); ok {
			u, mult = rest, su.n
			break
		}
	}
	n, err := strconv.ParseInt(u, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("want a size such as 1048576, 500M or 2G")
	}
	if n > math.MaxInt64/mult {
		return 0, errors.New("size too large")
	}
	return n * mult, nil
}

// formatSize writes a byte count in the largest unit that divides it.
func formatSize(n int64) string {
	for _, su := range sizeUnits {
		if n >= su.n && n%su.n == 0 {
			return strconv.FormatInt(n/su.n, 10) + su.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// runQuota changes the limits of an account, or prints them with its usage
// when c changes nothing.
func runQuota(ctx context.Context, st store.Store, name string, c quotaChange, out io.Writer) error {
	qa, ok := st.(store.QuotaAdmin)
	if !ok {
		return errors.New("this store keeps no quotas")
	}
	u, err := st.OpenUser(ctx, name)
	if err != nil {
		return err
	}
	qu, ok := u.(store.QuotaUser)
	if !ok {
		return errors.New("this store keeps no quotas")
	}
	q, use, err := qu.Quota(ctx)
	if err != nil {
		return err
	}
	if c.none() {
		limit := func(n int64, f func(int64) string) string {
			if n <= 0 {
				return "none"
			}
			return f(n)
		}
		fmt.Fprintf(out, "storage:  %d bytes used, limit %s\n", use.Storage,
			limit(q.Storage, func(n int64) string { return fmt.Sprintf("%s (%d bytes)", formatSize(n), n) }))
		fmt.Fprintf(out, "messages: %d used, limit %s\n", use.Messages,
			limit(q.Messages, func(n int64) string { return strconv.FormatInt(n, 10) }))
		return nil
	}
	if c.storage != nil {
		q.Storage = *c.storage
	}
	if c.messages != nil {
		q.Messages = *c.messages
	}
	return qa.SetQuota(ctx, name, q)
}
