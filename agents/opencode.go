package agents

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// opencode keeps its sessions in a SQLite database in its data directory
// ($XDG_DATA_HOME/opencode, else ~/.local/share/opencode; OPENCODE_DB names
// another file): each of its answers is a row of table message whose JSON
// data has the answer's tokens and cost, and each session a row of table
// session with its directory. It writes an answer's figures as the answer
// completes, in its terminal and over ACP alike; its ACP responses carry
// only the turn's last answer's tokens.

// opencodeDB is the database of an opencode run with environment env (the
// daemon's, with its profile's on top; a later variable wins); "" when
// env has no home.
func opencodeDB(env []string) string {
	get := func(k string) string {
		v := ""
		for _, kv := range env {
			if after, ok := strings.CutPrefix(kv, k+"="); ok {
				v = after
			}
		}
		return v
	}
	data := get("XDG_DATA_HOME")
	if data == "" {
		home := get("HOME")
		if home == "" {
			return ""
		}
		data = filepath.Join(home, ".local", "share")
	}
	data = filepath.Join(data, "opencode")
	if db := get("OPENCODE_DB"); db != "" {
		if db == ":memory:" {
			return ""
		}
		if filepath.IsAbs(db) {
			return db
		}
		return filepath.Join(data, db)
	}
	return filepath.Join(data, "opencode.db")
}

// opencodeUsageDB is the database to read session s's usage from, "" when
// it runs no opencode on this machine.
func opencodeUsageDB(s Session, p Profile) string {
	if agentKind(s.Agent, p) != "opencode" || s.Host != "" {
		return ""
	}
	return opencodeDB(profileEnv(p))
}

// opencodeUsage reads what opencode recorded in its database db of the
// sessions it held in directory dir since since (a studiod session's
// worktree, from its spawn): its answers' tokens and cost, summed, and
// the id of the first of those sessions that is no subagent's, the
// conversation to resume. Usage is nil until an answer is recorded; the
// cost is nil while every answer's is 0 (opencode knows no price for the
// model).
func opencodeUsage(ctx context.Context, db, dir string, since time.Time) (*Usage, string, error) {
	if _, err := os.Stat(db); err != nil {
		return nil, "", err
	}
	h, err := sql.Open("sqlite", "file:"+(&url.URL{Path: db}).EscapedPath()+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, "", fmt.Errorf("open opencode db %s: %w", db, err)
	}
	defer h.Close()
	resolved := dir
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		resolved = r
	}
	rows, err := h.QueryContext(ctx, `SELECT s.id, s.parent_id IS NULL, m.data FROM session s
		LEFT JOIN message m ON m.session_id = s.id
		WHERE s.directory IN (?, ?) AND s.time_created >= ?
		ORDER BY s.time_created, s.id, m.time_created, m.id`, dir, resolved, since.UnixMilli())
	if err != nil {
		return nil, "", fmt.Errorf("read opencode db %s: %w", db, err)
	}
	defer rows.Close()
	var (
		u    *Usage
		conv string
	)
	for rows.Next() {
		var (
			id   string
			root bool
			data sql.NullString
		)
		if err := rows.Scan(&id, &root, &data); err != nil {
			return nil, "", fmt.Errorf("read opencode db %s: %w", db, err)
		}
		if root && conv == "" {
			conv = id
		}
		var m struct {
			Role   string  `json:"role"`
			Cost   float64 `json:"cost"`
			Tokens *struct {
				Input     int64 `json:"input"`
				Output    int64 `json:"output"`
				Reasoning int64 `json:"reasoning"`
				Cache     struct {
					Read  int64 `json:"read"`
					Write int64 `json:"write"`
				} `json:"cache"`
			} `json:"tokens"`
		}
		if !data.Valid || json.Unmarshal([]byte(data.String), &m) != nil || m.Role != "assistant" || m.Tokens == nil {
			continue
		}
		if u == nil {
			u = new(Usage)
		}
		// opencode's input is without the cache's tokens; its reasoning
		// is billed as output.
		t := m.Tokens
		u.Input += t.Input
		u.Output += t.Output + t.Reasoning
		u.CacheRead += t.Cache.Read
		u.CacheWrite += t.Cache.Write
		if m.Cost > 0 {
			u.Cost = addCost(u.Cost, &m.Cost)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("read opencode db %s: %w", db, err)
	}
	return u, conv, nil
}

// readOpencode records what opencode's database db says session id's
// model used, and its conversation when none is known yet. It reports
// whether the database had the usage.
func (m *Manager) readOpencode(ctx context.Context, id, db string) bool {
	s, err := m.Lookup(Ref{Session: id})
	if err != nil || !live(s.State) {
		return false
	}
	u, conv, err := opencodeUsage(ctx, db, s.Worktree, s.Created)
	if err != nil {
		m.log.Debug("opencode usage", "session", s.Name, "err", err)
		return false
	}
	m.update(id, func(r *Session) bool {
		changed := false
		if conv != "" && r.Conversation == "" {
			r.Conversation, changed = conv, true
		}
		if u != nil && !u.equal(r.Usage) {
			r.Usage, changed = u, true
		}
		return changed
	})
	return u != nil
}

// fileStamp is a file's size and modification time, "" when it is not
// there.
func fileStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	return fmt.Sprint(fi.Size(), fi.ModTime().UnixNano())
}
