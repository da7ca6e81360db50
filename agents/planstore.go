package agents

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// The plans table: each plan stored whole, as JSON.

// putPlan stores a plan whole.
func (s *store) putPlan(ctx context.Context, r *PlanRun) error {
	done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO plans (id, repo, state, data, created, updated) VALUES (?,?,?,?,?,?)
		ON CONFLICT(id) DO UPDATE SET state=excluded.state, data=excluded.data, updated=excluded.updated`,
		r.ID, r.Repo, r.State, string(data), r.Created.UnixNano(), r.Updated.UnixNano())
	if err != nil {
		return fmt.Errorf("store plan %s: %w", r.ID, err)
	}
	return nil
}

func (s *store) allPlans(ctx context.Context) ([]*PlanRun, error) {
	defer s.read()()
	rows, err := s.db.QueryContext(ctx, `SELECT data FROM plans ORDER BY created`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*PlanRun
	for rows.Next() {
		var data sql.NullString
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var r PlanRun
		if err := json.Unmarshal([]byte(data.String), &r); err != nil {
			return nil, err
		}
		out = append(out, &r)
	}
	return out, rows.Err()
}
