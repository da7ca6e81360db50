package agents

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Usage is what a session's agent reports its model used, summed over the
// session: tokens sent (Input, besides the prompt cache's), tokens
// answered (Output), tokens read from the prompt cache (CacheRead) and
// written to it (CacheWrite), and the cost in US dollars when the agent
// reports one.
type Usage struct {
	Input, Output, CacheRead, CacheWrite int64
	Cost                                 *float64 `json:",omitempty"`
}

func (u *Usage) equal(v *Usage) bool {
	if u == nil || v == nil {
		return u == v
	}
	if (u.Cost == nil) != (v.Cost == nil) || u.Cost != nil && *u.Cost != *v.Cost {
		return false
	}
	return u.Input == v.Input && u.Output == v.Output && u.CacheRead == v.CacheRead && u.CacheWrite == v.CacheWrite
}

// claudeUsage sums the usage of the model's answers in a Claude Code
// session transcript (JSON lines). Claude Code writes one line for each
// block of an answer, each with the answer's usage: an answer counts once,
// by its message id, with its last line's figures. It returns nil when the
// transcript holds no answer yet.
func claudeUsage(path string) (*Usage, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("transcript path %q is not absolute", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	type line struct {
		Type    string   `json:"type"`
		Cost    *float64 `json:"costUSD"`
		Message struct {
			ID    string `json:"id"`
			Usage *struct {
				Input      int64 `json:"input_tokens"`
				Output     int64 `json:"output_tokens"`
				CacheRead  int64 `json:"cache_read_input_tokens"`
				CacheWrite int64 `json:"cache_creation_input_tokens"`
			} `json:"usage"`
		} `json:"message"`
	}
	var order []string
	answers := map[string]line{}
	r := bufio.NewReader(f)
	for {
		b, err := r.ReadBytes('\n')
		var l line
		if json.Unmarshal(b, &l) == nil && l.Type == "assistant" && l.Message.ID != "" && l.Message.Usage != nil {
			if _, ok := answers[l.Message.ID]; !ok {
				order = append(order, l.Message.ID)
			}
			answers[l.Message.ID] = l
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(order) == 0 {
		return nil, nil
	}
	var u Usage
	for _, id := range order {
		l := answers[id]
		u.Input += l.Message.Usage.Input
		u.Output += l.Message.Usage.Output
		u.CacheRead += l.Message.Usage.CacheRead
		u.CacheWrite += l.Message.Usage.CacheWrite
		if l.Cost != nil {
			c := *l.Cost
			if u.Cost != nil {
				c += *u.Cost
			}
			u.Cost = &c
		}
	}
	return &u, nil
}
