package agents

import (
	"errors"
	"testing"
)

func TestParseBudget(t *testing.T) {
	for in, want := range map[string]Budget{
		"$5": {Cost: 5}, "5$": {Cost: 5}, " 2.50 USD": {Cost: 2.5}, "usd 1": {Cost: 1},
		"200000": {Tokens: 200000}, "200k": {Tokens: 200000}, "1.5M": {Tokens: 1500000},
		"200k tokens": {Tokens: 200000}, "10K": {Tokens: 10000}, "1 token": {Tokens: 1},
	} {
		got, err := ParseBudget(in)
		if err != nil || got != want {
			t.Errorf("ParseBudget(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if back, err := ParseBudget(got.String()); err != nil || back.Tokens != got.Tokens || (back.Cost-got.Cost) > 0.005 {
			t.Errorf("%q → %q → %+v, %v", in, got.String(), back, err)
		}
	}
	for _, in := range []string{"", "0", "-5", "$0", "$-1", "abc", "12q", "$", "k", "NaN", "$NaN", "Inf", "1e400", "0.4"} {
		if b, err := ParseBudget(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseBudget(%q) = %+v, %v; want invalid", in, b, err)
		}
	}
}

func TestBudgetSpent(t *testing.T) {
	cost := 0.75
	u := &Usage{Input: 100, Output: 50, CacheRead: 800, CacheWrite: 50, Cost: &cost}
	if share, known := (Budget{Tokens: 2000}).Spent(u); !known || share != 0.5 {
		t.Errorf("tokens: %v %v", share, known)
	}
	if share, known := (Budget{Cost: 1.5}).Spent(u); !known || share != 0.5 {
		t.Errorf("cost: %v %v", share, known)
	}
	// An agent that reports tokens and no cost: a budget in dollars is
	// not known, and never holds the session.
	if _, known := (Budget{Cost: 1}).Spent(&Usage{Input: 10}); known {
		t.Error("a cost budget known without a cost")
	}
	s := &Session{Name: "x", State: Working, Budget: &Budget{Cost: 0.01}, Usage: &Usage{Input: 1 << 40}}
	if holdOnBudget(s) {
		t.Error("held on a cost nobody reported")
	}
	s.Budget = &Budget{Tokens: 1000}
	if !holdOnBudget(s) || s.State != Waiting || s.Ask.Kind != WaitBudget {
		t.Fatalf("not held: %+v", s)
	}
	if holdOnBudget(s) {
		t.Error("held twice: the turn would be interrupted again")
	}
	s.State = Exited
	if holdOnBudget(s) {
		t.Error("an exited session held")
	}
}
