package agents

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/studiod/studiod/vocab"
	_ "modernc.org/sqlite"
)

// migrations are applied in order; PRAGMA user_version records how many ran.
// Never edit one that has shipped: append a new one.
var migrations = []string{
	`CREATE TABLE sessions (
		id        TEXT PRIMARY KEY,
		name      TEXT NOT NULL,
		repo      TEXT NOT NULL,
		branch    TEXT NOT NULL,
		base      TEXT NOT NULL,
		target    TEXT NOT NULL,
		worktree  TEXT NOT NULL,
		agent     TEXT NOT NULL,
		command   TEXT NOT NULL,
		prompt    TEXT NOT NULL,
		state     TEXT NOT NULL,
		detail    TEXT NOT NULL DEFAULT '',
		pid       INTEGER NOT NULL DEFAULT 0,
		exit_code INTEGER,
		port      INTEGER NOT NULL DEFAULT 0,
		dir       TEXT NOT NULL,
		files     INTEGER NOT NULL DEFAULT 0,
		additions INTEGER NOT NULL DEFAULT 0,
		deletions INTEGER NOT NULL DEFAULT 0,
		created   INTEGER NOT NULL,
		updated   INTEGER NOT NULL
	);
	CREATE INDEX sessions_repo_name ON sessions(repo, name);
	CREATE TABLE trust (
		path TEXT PRIMARY KEY,
		hash TEXT NOT NULL,
		at   INTEGER NOT NULL
	);`,
	`CREATE TABLE comments (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		session    TEXT NOT NULL REFERENCES sessions(id),
		path       TEXT NOT NULL,
		start_line INTEGER NOT NULL,
		end_line   INTEGER NOT NULL,
		body       TEXT NOT NULL,
		created    INTEGER NOT NULL,
		sent       INTEGER
	);
	CREATE INDEX comments_session ON comments(session);`,
	`CREATE TABLE merges (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		session    TEXT NOT NULL REFERENCES sessions(id),
		strategy   TEXT NOT NULL,
		target     TEXT NOT NULL,
		old        TEXT NOT NULL,
		new        TEXT NOT NULL,
		backup     TEXT NOT NULL,
		prev_state TEXT NOT NULL,
		at         INTEGER NOT NULL,
		undone     INTEGER
	);
	CREATE INDEX merges_session ON merges(session);`,
	`ALTER TABLE sessions ADD COLUMN waiting TEXT NOT NULL DEFAULT '';
	ALTER TABLE sessions ADD COLUMN conversation TEXT NOT NULL DEFAULT '';
	CREATE TABLE answers (
		id       INTEGER PRIMARY KEY AUTOINCREMENT,
		session  TEXT NOT NULL REFERENCES sessions(id),
		kind     TEXT NOT NULL,
		question TEXT NOT NULL,
		subject  TEXT NOT NULL,
		answer   TEXT NOT NULL,
		by       TEXT NOT NULL,
		at       INTEGER NOT NULL
	);
	CREATE INDEX answers_session ON answers(session);`,
	`ALTER TABLE sessions ADD COLUMN scope TEXT NOT NULL DEFAULT '';
	ALTER TABLE sessions ADD COLUMN out_of_scope TEXT NOT NULL DEFAULT '';
	ALTER TABLE sessions ADD COLUMN note TEXT NOT NULL DEFAULT '';
	ALTER TABLE sessions ADD COLUMN gate TEXT NOT NULL DEFAULT '';`,
	`ALTER TABLE sessions ADD COLUMN protocol TEXT NOT NULL DEFAULT '';`,
	`CREATE TABLE plans (
		id      TEXT PRIMARY KEY,
		repo    TEXT NOT NULL,
		state   TEXT NOT NULL,
		data    TEXT NOT NULL,
		created INTEGER NOT NULL,
		updated INTEGER NOT NULL
	);`,
	`ALTER TABLE comments ADD COLUMN author TEXT NOT NULL DEFAULT '';
	CREATE TABLE reviews (
		reviewer  TEXT PRIMARY KEY REFERENCES sessions(id),
		reviewed  TEXT NOT NULL REFERENCES sessions(id),
		forward   INTEGER NOT NULL DEFAULT 0,
		done      INTEGER,
		forwarded INTEGER
	);
	CREATE INDEX reviews_reviewed ON reviews(reviewed);`,
	`ALTER TABLE sessions ADD COLUMN usage TEXT NOT NULL DEFAULT '';`,
	`ALTER TABLE sessions ADD COLUMN budget TEXT NOT NULL DEFAULT '';`,
}

// store is the SQLite state database. Its methods are safe for concurrent
// use; database/sql serializes the single connection. It notices when its
// file is deleted or replaced under it (storeguard.go).
type store struct {
	path string

	// mu is held shared by every operation and exclusively to replace db
	// (a deleted database written back). It guards db, file and lost.
	mu   sync.RWMutex
	db   *sql.DB
	file fileID // the file db has open
	lost error  // why changes are refused (ErrStateLost), or nil
}

func openStore(ctx context.Context, path string) (*store, error) {
	db, err := openDB(ctx, path)
	if err != nil {
		return nil, damaged(path, err)
	}
	s := &store{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, damaged(path, fmt.Errorf("migrate state db %s: %w", path, err))
	}
	if s.file, err = statID(path); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *store) migrate(ctx context.Context) error {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("state db has schema version %d, newer than this studiod (%d): upgrade studiod", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func (s *store) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Close()
}

const sessionCols = `id, name, repo, branch, base, target, worktree, agent, command, prompt,
	state, detail, pid, exit_code, port, dir, files, additions, deletions, created, updated,
	waiting, conversation, scope, out_of_scope, note, gate, protocol, usage, budget`

func (s *store) put(ctx context.Context, r *Session) error {
	done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	cmd, _ := json.Marshal(r.Command)
	var waiting, usage, budget []byte
	if r.Budget != nil {
		budget, _ = json.Marshal(r.Budget)
	}
	if r.Ask != nil {
		waiting, _ = json.Marshal(r.Ask)
	}
	if r.Usage != nil {
		usage, _ = json.Marshal(r.Usage)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(id) DO UPDATE SET
			name=excluded.name, repo=excluded.repo, branch=excluded.branch, base=excluded.base,
			target=excluded.target, worktree=excluded.worktree, agent=excluded.agent,
			command=excluded.command, prompt=excluded.prompt, state=excluded.state,
			detail=excluded.detail, pid=excluded.pid, exit_code=excluded.exit_code,
			port=excluded.port, dir=excluded.dir, files=excluded.files,
			additions=excluded.additions, deletions=excluded.deletions, updated=excluded.updated,
			waiting=excluded.waiting, conversation=excluded.conversation, scope=excluded.scope,
			out_of_scope=excluded.out_of_scope, note=excluded.note, gate=excluded.gate, protocol=excluded.protocol,
			usage=excluded.usage, budget=excluded.budget`,
		r.ID, r.Name, r.Repo, r.Branch, r.Base, r.Target, r.Worktree, r.Agent, string(cmd), r.Prompt,
		r.State, r.Detail, r.PID, r.ExitCode, r.Port, r.Dir, r.Changes.Files, r.Changes.Additions,
		r.Changes.Deletions, r.Created.UnixNano(), r.Updated.UnixNano(), string(waiting), r.Conversation,
		jsonList(r.Scope), jsonList(r.OutOfScope), r.Note, r.Gate, r.Protocol, string(usage), string(budget))
	if err != nil {
		return fmt.Errorf("store session %s: %w", r.Name, err)
	}
	return nil
}

func (s *store) all(ctx context.Context) ([]*Session, error) {
	defer s.read()()
	rows, err := s.db.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions ORDER BY created`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []*Session
	for rows.Next() {
		var r Session
		var cmd, waiting, scope, outOfScope, usage, budget string
		var exit sql.NullInt64
		var created, updated int64
		if err := rows.Scan(&r.ID, &r.Name, &r.Repo, &r.Branch, &r.Base, &r.Target, &r.Worktree,
			&r.Agent, &cmd, &r.Prompt, &r.State, &r.Detail, &r.PID, &exit, &r.Port, &r.Dir,
			&r.Changes.Files, &r.Changes.Additions, &r.Changes.Deletions, &created, &updated,
			&waiting, &r.Conversation, &scope, &outOfScope, &r.Note, &r.Gate, &r.Protocol, &usage, &budget); err != nil {
			return nil, err
		}
		json.Unmarshal([]byte(cmd), &r.Command)
		json.Unmarshal([]byte(scope), &r.Scope)
		json.Unmarshal([]byte(outOfScope), &r.OutOfScope)
		if waiting != "" {
			r.Ask = new(Ask)
			json.Unmarshal([]byte(waiting), r.Ask)
		}
		if usage != "" {
			r.Usage = new(Usage)
			json.Unmarshal([]byte(usage), r.Usage)
		}
		if budget != "" {
			r.Budget = new(Budget)
			json.Unmarshal([]byte(budget), r.Budget)
		}
		if exit.Valid {
			c := int(exit.Int64)
			r.ExitCode = &c
		}
		r.Created = time.Unix(0, created).UTC()
		r.Updated = time.Unix(0, updated).UTC()
		list = append(list, &r)
	}
	return list, rows.Err()
}

// jsonList stores a list as JSON, and an empty one as "".
func jsonList(l []string) string {
	if len(l) == 0 {
		return ""
	}
	b, _ := json.Marshal(l)
	return string(b)
}

// addAnswer records who answered a waiting session, and how.
func (s *store) addAnswer(ctx context.Context, session string, w *Ask, answer, by string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO answers (session, kind, question, subject, answer, by, at) VALUES (?,?,?,?,?,?,?)`,
		session, w.Kind, w.Question, w.Subject, answer, by, at.UnixNano())
	return err
}

func (s *store) trustHash(ctx context.Context, path string) (string, error) {
	defer s.read()()
	var h string
	err := s.db.QueryRowContext(ctx, `SELECT hash FROM trust WHERE path = ?`, path).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return h, err
}

func (s *store) setTrust(ctx context.Context, path, hash string) error {
	done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	if hash == "" {
		_, err := s.db.ExecContext(ctx, `DELETE FROM trust WHERE path = ?`, path)
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO trust (path, hash, at) VALUES (?,?,?)
		ON CONFLICT(path) DO UPDATE SET hash=excluded.hash, at=excluded.at`, path, hash, time.Now().UnixNano())
	return err
}

// Comment is a review comment on lines of a session's file.
type Comment struct {
	ID        int64
	Session   string
	Path      string
	StartLine int
	EndLine   int
	Body      string
	Created   time.Time
	Sent      *time.Time
	// By is the name of the session that made the comment (a reviewer),
	// "" for a person.
	By string
}

func (s *store) addComment(ctx context.Context, c *Comment) error {
	done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	res, err := s.db.ExecContext(ctx, `INSERT INTO comments (session, path, start_line, end_line, body, created, author) VALUES (?,?,?,?,?,?,?)`,
		c.Session, c.Path, c.StartLine, c.EndLine, c.Body, c.Created.UnixNano(), c.By)
	if err != nil {
		return fmt.Errorf("store comment: %w", err)
	}
	c.ID, err = res.LastInsertId()
	return err
}

func (s *store) comments(ctx context.Context, session string) ([]Comment, error) {
	defer s.read()()
	rows, err := s.db.QueryContext(ctx, `SELECT id, session, path, start_line, end_line, body, created, sent, author FROM comments WHERE session = ? ORDER BY id`, session)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []Comment
	for rows.Next() {
		var c Comment
		var created int64
		var sent sql.NullInt64
		if err := rows.Scan(&c.ID, &c.Session, &c.Path, &c.StartLine, &c.EndLine, &c.Body, &created, &sent, &c.By); err != nil {
			return nil, err
		}
		c.Created = time.Unix(0, created).UTC()
		if sent.Valid {
			t := time.Unix(0, sent.Int64).UTC()
			c.Sent = &t
		}
		list = append(list, c)
	}
	return list, rows.Err()
}

func (s *store) markSent(ctx context.Context, ids []int64, at time.Time) error {
	done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `UPDATE comments SET sent = ? WHERE id = ?`, at.UnixNano(), id); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// mergeRecord is a merge studiod made, kept so it can be undone.
type mergeRecord struct {
	ID                        int64
	Session, Strategy, Target string
	Old, New, Backup          string
	PrevState                 vocab.State
	At                        time.Time
	Undone                    bool
}

func (s *store) addMerge(ctx context.Context, r *mergeRecord) error {
	done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	res, err := s.db.ExecContext(ctx, `INSERT INTO merges (session, strategy, target, old, new, backup, prev_state, at) VALUES (?,?,?,?,?,?,?,?)`,
		r.Session, r.Strategy, r.Target, r.Old, r.New, r.Backup, r.PrevState, r.At.UnixNano())
	if err != nil {
		return fmt.Errorf("store merge: %w", err)
	}
	r.ID, err = res.LastInsertId()
	return err
}

func (s *store) lastMerge(ctx context.Context, session string) (*mergeRecord, error) {
	defer s.read()()
	var r mergeRecord
	var at int64
	var undone sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT id, session, strategy, target, old, new, backup, prev_state, at, undone FROM merges WHERE session = ? ORDER BY id DESC LIMIT 1`, session).
		Scan(&r.ID, &r.Session, &r.Strategy, &r.Target, &r.Old, &r.New, &r.Backup, &r.PrevState, &at, &undone)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r.At = time.Unix(0, at).UTC()
	r.Undone = undone.Valid
	return &r, nil
}

func (s *store) markUndone(ctx context.Context, id int64) error {
	done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	_, err = s.db.ExecContext(ctx, `UPDATE merges SET undone = ? WHERE id = ?`, time.Now().UnixNano(), id)
	return err
}
