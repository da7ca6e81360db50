package agents

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Budget is how much a session's model may use: tokens (sent, cache reads
// and writes included, and answered: what `show` counts as in and out), or
// US dollars where the agent reports its cost. One of the two is set.
type Budget struct {
	Tokens int64   `json:",omitempty"`
	Cost   float64 `json:",omitempty"`
}

// BudgetNotice is the share of a budget at which the person hears that a
// session is near it.
const BudgetNotice = 0.8

// ParseBudget reads a budget as a person writes it: "$5", "5 USD",
// "2.50$" in money; "200000", "200k", "1.5M", "200k tokens" in tokens.
func ParseBudget(s string) (Budget, error) {
	t := strings.TrimSpace(s)
	bad := func() (Budget, error) {
		return Budget{}, invalidf("budget %q: give tokens (200k, 1.5M, 50000) or US dollars ($5, 2.50 USD)", s)
	}
	money := false
	for _, p := range []string{"$", "usd", "USD"} {
		if r, ok := strings.CutPrefix(t, p); ok {
			t, money = strings.TrimSpace(r), true
		} else if r, ok := strings.CutSuffix(t, p); ok {
			t, money = strings.TrimSpace(r), true
		}
	}
	if money {
		v, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			return bad()
		}
		return Budget{Cost: v}, nil
	}
	t = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(t, "tokens"), "token"))
	mult := 1.0
	if n := len(t); n > 0 && !unicode.IsDigit(rune(t[n-1])) {
		switch t[n-1] {
		case 'k', 'K':
			mult = 1e3
		case 'm', 'M':
			mult = 1e6
		default:
			return bad()
		}
		t = t[:n-1]
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || v*mult < 1 || v*mult > math.MaxInt64/2 {
		return bad()
	}
	return Budget{Tokens: int64(math.Round(v * mult))}, nil
}

// String writes the budget as ParseBudget reads it.
func (b Budget) String() string {
	if b.Cost > 0 {
		return fmt.Sprintf("$%.2f", b.Cost)
	}
	return tokenCount(b.Tokens) + " tokens"
}

// tokenCount is a count of tokens as a person reads it: 950, 12.3k, 4.1M.
func tokenCount(n int64) string {
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10)
	case n < 1_000_000:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/1e3), ".0") + "k"
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/1e6), ".0") + "M"
}

// Tokens is every token the usage counts: sent, read from and written to
// the prompt cache, and answered.
func (u *Usage) Tokens() int64 {
	if u == nil {
		return 0
	}
	return u.Input + u.CacheRead + u.CacheWrite + u.Output
}

// Spent says how much of the budget u uses (1 is all of it) and whether it
// is known: a budget in money is not known while the agent reports no cost.
func (b Budget) Spent(u *Usage) (share float64, known bool) {
	switch {
	case b.Cost > 0:
		if u == nil {
			return 0, true
		}
		if u.Cost == nil {
			return 0, u.Tokens() == 0
		}
		return *u.Cost / b.Cost, true
	case b.Tokens > 0:
		return float64(u.Tokens()) / float64(b.Tokens), true
	}
	return 0, true
}

// used says what u used of the budget, in its unit: "12.3k of 10k
// tokens", "$5.02 of $5.00".
func (b Budget) used(u *Usage) string {
	if b.Cost > 0 {
		c := 0.0
		if u != nil && u.Cost != nil {
			c = *u.Cost
		}
		return fmt.Sprintf("$%.2f of %s", c, b)
	}
	return fmt.Sprintf("%s of %s", tokenCount(u.Tokens()), b)
}

// overBudget reports whether s has used all of its budget.
func overBudget(s *Session) bool {
	if s.Budget == nil {
		return false
	}
	share, _ := s.Budget.Spent(s.Usage)
	return share >= 1
}

// waitsOnBudget reports whether s waits for the person to raise or clear
// its budget.
func waitsOnBudget(s *Session) bool {
	return s.State == Waiting && s.Ask != nil && s.Ask.Kind == WaitBudget
}

// holdOnBudget, in every change of a session, keeps a live session that
// has used its whole budget waiting on it. It reports whether the session
// has just reached it: its turn is then interrupted.
func holdOnBudget(s *Session) (reached bool) {
	if !live(s.State) || s.State == Starting || !overBudget(s) {
		return false
	}
	if waitsOnBudget(s) {
		return false
	}
	q := fmt.Sprintf("%s has used %s: its turn was interrupted; raise or clear its budget to go on", s.Name, s.Budget.used(s.Usage))
	s.State, s.Detail = Waiting, q
	s.Ask = &Ask{Kind: WaitBudget, Question: q}
	return true
}

// interruptForBudget ends the running turn of a session that has used its
// budget; the agent stays, waiting on the budget.
func (m *Manager) interruptForBudget(s Session) {
	m.wg.Go(func() {
		if _, err := m.driverOf(s).cancel(m.ctx, s); err != nil {
			m.log.Warn("interrupt at the budget", "session", s.Name, "err", err)
		} else {
			m.log.Info("turn interrupted: budget used", "session", s.Name, "used", s.Budget.used(s.Usage))
		}
	})
}

// SetBudget gives the session a budget, or none (nil). A session waiting
// on its budget goes back to idle once the budget covers what it used.
func (m *Manager) SetBudget(ctx context.Context, ref Ref, b *Budget) (Session, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return Session{}, err
	}
	if b != nil && b.Cost <= 0 && b.Tokens <= 0 {
		return Session{}, invalidf("a budget of nothing: give tokens or US dollars, or clear the budget")
	}
	return m.update(s.ID, func(r *Session) bool {
		if b == nil {
			r.Budget = nil
		} else {
			c := *b
			r.Budget = &c
		}
		if waitsOnBudget(r) && !overBudget(r) {
			r.State, r.Detail, r.Ask = Idle, "", nil
		}
		return true
	})
}

// budgetRefusal refuses what would start a turn of a session waiting on
// its budget.
func budgetRefusal(s Session) error {
	if !waitsOnBudget(&s) {
		return nil
	}
	return &Problem{Kind: ErrBusy, What: s.Name + " has used " + s.Budget.used(s.Usage) + ": its budget holds it", Session: s.Name, Repo: s.Repo, Fix: FixRaiseBudget}
}
