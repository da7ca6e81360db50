package agents

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"modernc.org/sqlite"
)

// The state database can be deleted or replaced under a running daemon
// (rm -rf ~/.local/state, a sync tool, a restore from backup). SQLite goes
// on writing to the file it has open, so every change since would be lost
// at the next start, while shims, agents, worktrees and branches live on,
// unknown. The store remembers which file it opened (device and inode) and
// checks the path before every write and every few seconds:
//
//   - deleted (nothing at the path): the store writes what its open
//     connection holds back to the path (VACUUM INTO), reopens it, and goes
//     on — nothing is lost;
//   - replaced (another file at the path): which file is right is the
//     user's call, so the daemon refuses changes (ErrStateLost, on every
//     write and on spawn, merge and undo), saves its own copy next to it,
//     and says how to choose.

// ErrStateLost reports that the state database was replaced under the
// daemon, which then refuses changes.
var ErrStateLost = errors.New("state database replaced")

// storeCheckEvery is how often the daemon looks at its database's path
// when nothing writes.
const storeCheckEvery = 2 * time.Second

// fileID identifies a file across renames: device and inode.
type fileID struct{ dev, ino uint64 }

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, fmt.Errorf("stat %s: no inode", path)
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}, nil
}

// SQLite primary result codes the store tells apart.
const (
	sqliteCorrupt = 11
	sqliteFull    = 13
	sqliteNotADB  = 26
)

func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

// isDiskFull reports whether err is the database (or the disk under it)
// being full.
func isDiskFull(err error) bool {
	return sqliteCode(err) == sqliteFull || errors.Is(err, syscall.ENOSPC)
}

// read holds the store for a read; call the result when done.
func (s *store) read() func() {
	s.mu.RLock()
	return s.mu.RUnlock
}

// write holds the store for a write, once the database file is known to be
// the one it opened (restoring a deleted one first); call the result when
// done.
func (s *store) write(ctx context.Context) (func(), error) {
	s.mu.RLock()
	if s.lost == nil && !s.sameFile() {
		s.mu.RUnlock()
		s.recheck(ctx)
		s.mu.RLock()
	}
	if s.lost != nil {
		err := s.lost
		s.mu.RUnlock()
		return nil, err
	}
	return s.mu.RUnlock, nil
}

// usable reports why the store refuses changes, or nil.
func (s *store) usable() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lost
}

// sameFile reports whether the path still names the file opened. s.mu
// must be held.
func (s *store) sameFile() bool {
	id, err := statID(s.path)
	return err == nil && id == s.file
}

// check looks at the database's path and, when it no longer names the file
// the store opened, restores it or refuses changes. It reports what it did:
// restored, or the error changes now get.
func (s *store) check(ctx context.Context) (restored bool, lost error) {
	s.mu.RLock()
	ok := s.lost != nil || s.sameFile()
	lost = s.lost
	s.mu.RUnlock()
	if ok {
		return false, lost
	}
	return s.recheck(ctx)
}

func (s *store) recheck(ctx context.Context) (restored bool, lost error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lost != nil || s.sameFile() {
		return false, s.lost
	}
	id, err := statID(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := s.restoreLocked(ctx); err != nil {
			s.lost = &Problem{Kind: ErrStateLost, What: fmt.Sprintf("%s was deleted while studiod ran and could not be written back (%v): studiod refuses changes", s.path, err),
				Path: s.path, Fix: FixRestartDaemon}
			return false, s.lost
		}
		return true, nil
	case err != nil:
		// Not readable just now (permissions, I/O): look again later.
		return false, nil
	}
	saved := fmt.Sprintf("%s.daemon-%d", s.path, time.Now().Unix())
	where := "it could not save its own copy"
	if err := s.saveLocked(ctx, saved); err == nil {
		where = "its own copy is " + saved
	}
	s.lost = &Problem{Kind: ErrStateLost, What: fmt.Sprintf("%s was replaced by another file (inode %d, opened as %d) while studiod ran; studiod refuses changes rather than record them where no one will look, and %s; put the database you want at %s before the daemon starts again",
		s.path, id.ino, s.file.ino, where, s.path), Path: s.path, Fix: FixRestartDaemon}
	return false, s.lost
}

// saveLocked writes a consistent copy of the open database to dst.
func (s *store) saveLocked(ctx context.Context, dst string) error {
	os.Remove(dst)
	if _, err := s.db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("copy the state database to %s: %w", dst, err)
	}
	return nil
}

// restoreLocked writes the open database back to its deleted path and
// reopens it there.
func (s *store) restoreLocked(ctx context.Context) error {
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp := s.path + ".restore"
	if err := s.saveLocked(ctx, tmp); err != nil {
		return err
	}
	// Closing checkpoints the old write-ahead log into the deleted file
	// and removes the log by name; a log or shared-memory file left at the
	// path belongs to the old file and would be replayed onto the new one.
	s.db.Close()
	os.Remove(s.path + "-wal")
	os.Remove(s.path + "-shm")
	if err := os.Rename(tmp, s.path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	db, err := openDB(ctx, s.path)
	if err != nil {
		return err
	}
	id, err := statID(s.path)
	if err != nil {
		db.Close()
		return err
	}
	s.db, s.file = db, id
	return nil
}

// openDB opens the database at path with studiod's settings.
func openDB(ctx context.Context, path string) (*sql.DB, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open state db %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// damaged explains a database SQLite cannot read, with what to do.
func damaged(path string, err error) error {
	switch sqliteCode(err) {
	case sqliteCorrupt, sqliteNotADB:
		return fmt.Errorf("state database %s is damaged (%v): move it aside (`mv %s %s.damaged`) and start studiod again; running agents, worktrees and branches are untouched, but the new database will not know their sessions",
			path, err, path, path)
	}
	return err
}

// watchStore checks the database's path every few seconds, so that a
// deleted database is written back, or a replaced one noticed, even when
// nothing writes; and the sessions' worktrees, so that one deleted by hand
// is noticed.
func (m *Manager) watchStore() {
	t := time.NewTicker(storeCheckEvery)
	defer t.Stop()
	warned := false
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
		m.checkWorktrees()
		restored, lost := m.store.check(m.ctx)
		switch {
		case restored:
			m.log.Warn("the state database was deleted while studiod ran: written back from the daemon's open copy", "path", m.store.path)
		case lost != nil && !warned:
			m.log.Error("state database lost: refusing changes", "err", lost)
			warned = true
		}
	}
}
