package pgstore

// ListenerPID returns the backend process ID of the listener's connection.
func (s *Store) ListenerPID() uint32 { return s.listen.pid.Load() }

// ListenerConnects returns how often the listener connected.
func (s *Store) ListenerConnects() int64 { return s.listen.connects.Load() }
