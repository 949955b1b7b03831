package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// ListenerPID returns the backend process ID of the listener's connection.
func (s *Store) ListenerPID() uint32 { return s.listen.pid.Load() }

// ListenerConnects returns how often the listener connected.
func (s *Store) ListenerConnects() int64 { return s.listen.connects.Load() }

// RunsRepairs returns how often View found a mailbox's UID runs wrong and
// rebuilt them.
func (s *Store) RunsRepairs() int64 { return s.repairs.Load() }

// MigrateTo applies the embedded migrations 1..n to schema on the server
// at url, as Open would if this program knew only those.
func MigrateTo(ctx context.Context, url, schema string, n int) error {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	cfg.RuntimeParams["search_path"] = schema
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, _, err = migrate(ctx, conn, schema, ms[:n])
	return err
}
