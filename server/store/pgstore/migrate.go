package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one schema step, read from migrations/NNNN_description.sql.
type migration struct {
	version     int
	description string
	sql         string
}

// migrationLockKey is the advisory lock that serialises schema migrations
// of nodes starting at the same time.
const migrationLockKey = 0x696d6170_66736d01 // "imapfsm" + 1

// loadMigrations returns the embedded migrations in version order. Versions
// must be 1, 2, 3, ... without gaps.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".sql")
		num, desc, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("pgstore: migration %s: want NNNN_description.sql", name)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, description: desc, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("pgstore: migration versions must be 1..%d without gaps, found %d at position %d", len(out), m.version, i+1)
		}
	}
	return out, nil
}

// SchemaVersion is the newest schema version this program knows.
func SchemaVersion() int {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return 0
	}
	return len(ms)
}

// migrate brings the schema up to the newest known version in one
// transaction, under an advisory lock so that concurrently starting nodes
// migrate once. It refuses a database whose schema is newer than this
// program: an older binary must not write to a layout it does not know.
// It returns the schema version before and after.
func migrate(ctx context.Context, conn *pgx.Conn, schema string, ms []migration) (from, to int, err error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLockKey)); err != nil {
		return 0, 0, err
	}
	if schema != "" {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return 0, 0, err
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version     integer PRIMARY KEY,
		description text NOT NULL,
		applied_at  timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, 0, err
	}
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&from); err != nil {
		return 0, 0, err
	}
	if from > len(ms) {
		return from, from, fmt.Errorf("%w: database schema version %d, this program knows up to %d; upgrade imapd", ErrSchemaTooNew, from, len(ms))
	}
	for _, m := range ms[from:] {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return from, from, fmt.Errorf("pgstore: migration %d (%s): %w", m.version, m.description, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version, description) VALUES ($1, $2)`, m.version, m.description); err != nil {
			return from, from, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return from, from, err
	}
	return from, len(ms), nil
}
