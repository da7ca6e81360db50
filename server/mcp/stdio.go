package mcp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// LineLimit caps one MCP stdio message (a line), as BodyLimit caps an HTTP
// request.
const LineLimit = BodyLimit

// limitLines passes the lines of r on through the returned reader, except
// those over max bytes: those are read to their end without being kept, and
// answered on w with a JSON-RPC error (with the request's id when it comes
// before the first max bytes are out). w must be safe for concurrent use,
// the server writing to it too.
func limitLines(r io.Reader, w io.Writer, max int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			line, over, err := readLine(br, max)
			if over {
				refuseLine(w, line, max)
			} else if len(line) > 0 {
				if _, werr := pw.Write(line); werr != nil {
					return
				}
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr
}

// readLine reads one line, its newline included; over a line longer than
// max it keeps the first max bytes and reports it over.
func readLine(br *bufio.Reader, max int) (line []byte, over bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !over {
			if len(line)+len(chunk) > max+1 { // the newline is free
				over = true
				line = append(line, chunk[:max-len(line)]...)
			} else {
				line = append(line, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return line, over, err
	}
}

// refuseLine answers a message over max bytes, of which prefix is the
// start.
func refuseLine(w io.Writer, prefix []byte, max int) {
	resp := struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{JSONRPC: "2.0", ID: leadingID(prefix)}
	resp.Error.Code = -32600 // invalid request
	resp.Error.Message = fmt.Sprintf("message over %d MiB refused: keep each message under it", max>>20)
	b, _ := json.Marshal(resp)
	w.Write(append(b, '\n'))
}

// leadingID is the "id" of a JSON-RPC message from its start, when it
// comes before any member too long to be in it; else null.
func leadingID(prefix []byte) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(prefix))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return json.RawMessage("null")
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			break
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			break
		}
		if k == "id" {
			return v
		}
	}
	return json.RawMessage("null")
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
