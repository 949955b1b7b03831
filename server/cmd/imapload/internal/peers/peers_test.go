package peers

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDovecotConfigComparesLikeWithLike(t *testing.T) {
	conf := dovecotConfig("/x", "4143", "0", dovecotIDs{internalUser: "dovecot", loginUser: "dovenull", mailUID: 999, mailGID: 998})
	for _, want := range []string{
		"listen = 127.0.0.1", "port = 4143", "scheme=BLF-CRYPT /x/passwd", "mail_location = maildir:/x/mail/%u",
		"auth_cache_size = 0", "uid=999 gid=998", "default_login_user = dovenull", "first_valid_uid = 999",
	} {
		assert.Contains(t, conf, want)
	}
	assert.NotContains(t, conf, "mail_fsync", "fsync as shipped")
}

func TestRowRatioAndTable(t *testing.T) {
	rows := []Row{
		{Mix: "login", Figure: "LOGIN/s", Imapd: 30, Dovecot: 10, HigherBetter: true, Unit: "ops/s"},
		{Mix: "idle", Figure: "PUSH p99", Imapd: 5, Dovecot: 0, Unit: "ms"},
	}
	assert.InDelta(t, 3.0, rows[0].Ratio(), 1e-9)
	assert.Zero(t, rows[1].Ratio())
	var b strings.Builder
	WriteTable(&b, rows)
	assert.Contains(t, b.String(), "3.00× (higher is better)")
	assert.Contains(t, b.String(), "lower is better")
}
