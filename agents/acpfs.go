package agents

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	acp "github.com/coder/acp-go-sdk"
)

// The ACP client's file system (fs/read_text_file, fs/write_text_file):
// an agent that asks its client to read or write a file gets the session's
// worktree, and only it. Paths are absolute, as ACP has them; a path
// outside the worktree, through a symbolic link out of it, or into its
// .git is refused, with a reason the agent can tell its model.

// maxACPFile caps what fs/read_text_file returns and fs/write_text_file
// takes: these are source files, not data sets.
const maxACPFile = 16 << 20

// acpFileCaps is what studiod advertises as an ACP client.
var acpFileCaps = acp.FileSystemCapabilities{ReadTextFile: true, WriteTextFile: true}

// worktreePath returns path relative to the worktree, or an error saying
// why the agent may not touch it.
func worktreePath(worktree, path string) (string, error) {
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("path %q is not absolute", path)
	}
	rel, err := filepath.Rel(worktree, filepath.Clean(path))
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is outside the session's worktree %s", path, worktree)
	}
	if first, _, _ := strings.Cut(rel, string(filepath.Separator)); first == ".git" {
		return "", fmt.Errorf("%s is git's own: not a file to read or write", path)
	}
	return rel, nil
}

// readWorktreeFile reads a text file of the worktree, from 1-based line
// for limit lines when given.
func readWorktreeFile(worktree string, req acp.ReadTextFileRequest) (acp.ReadTextFileResponse, error) {
	rel, err := worktreePath(worktree, req.Path)
	if err != nil {
		return acp.ReadTextFileResponse{}, acp.NewInvalidParams(err.Error())
	}
	root, err := os.OpenRoot(worktree)
	if err != nil {
		return acp.ReadTextFileResponse{}, acp.NewInternalError(err.Error())
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return acp.ReadTextFileResponse{}, fileError(req.Path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxACPFile+1))
	if err != nil {
		return acp.ReadTextFileResponse{}, fileError(req.Path, err)
	}
	if len(b) > maxACPFile {
		return acp.ReadTextFileResponse{}, acp.NewInvalidParams(fmt.Sprintf("%s is over %d MiB: read it in parts with a tool of your own", req.Path, maxACPFile>>20))
	}
	if req.Line == nil && req.Limit == nil {
		return acp.ReadTextFileResponse{Content: string(b)}, nil
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	from := 0
	if req.Line != nil {
		if *req.Line < 1 {
			return acp.ReadTextFileResponse{}, acp.NewInvalidParams(fmt.Sprintf("line %d: lines count from 1", *req.Line))
		}
		from = min(*req.Line-1, len(lines))
	}
	to := len(lines)
	if req.Limit != nil {
		if *req.Limit < 0 {
			return acp.ReadTextFileResponse{}, acp.NewInvalidParams(fmt.Sprintf("limit %d: give 0 or more lines", *req.Limit))
		}
		to = min(from+*req.Limit, len(lines))
	}
	return acp.ReadTextFileResponse{Content: string(bytes.Join(lines[from:to], nil))}, nil
}

// writeWorktreeFile writes a text file of the worktree, making its
// directories; an existing file keeps its mode.
func writeWorktreeFile(worktree string, req acp.WriteTextFileRequest) (acp.WriteTextFileResponse, error) {
	rel, err := worktreePath(worktree, req.Path)
	if err != nil {
		return acp.WriteTextFileResponse{}, acp.NewInvalidParams(err.Error())
	}
	if len(req.Content) > maxACPFile {
		return acp.WriteTextFileResponse{}, acp.NewInvalidParams(fmt.Sprintf("content for %s is over %d MiB", req.Path, maxACPFile>>20))
	}
	root, err := os.OpenRoot(worktree)
	if err != nil {
		return acp.WriteTextFileResponse{}, acp.NewInternalError(err.Error())
	}
	defer root.Close()
	if dir := filepath.Dir(rel); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return acp.WriteTextFileResponse{}, fileError(req.Path, err)
		}
	}
	mode := fs.FileMode(0o644)
	if fi, err := root.Stat(rel); err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return acp.WriteTextFileResponse{}, fileError(req.Path, err)
	}
	if _, err := io.WriteString(f, req.Content); err != nil {
		f.Close()
		return acp.WriteTextFileResponse{}, fileError(req.Path, err)
	}
	if err := f.Close(); err != nil {
		return acp.WriteTextFileResponse{}, fileError(req.Path, err)
	}
	return acp.WriteTextFileResponse{}, nil
}

// fileError words a file error for the agent: a symbolic link out of the
// worktree is refused as such.
func fileError(path string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes from parent") {
		return acp.NewInvalidParams(fmt.Sprintf("%s leads outside the session's worktree (a symbolic link)", path))
	}
	if errors.Is(err, fs.ErrNotExist) {
		return &acp.RequestError{Code: -32002, Message: "Resource not found", Data: map[string]any{"uri": path}}
	}
	return acp.NewInternalError(fmt.Sprintf("%s: %v", path, err))
}
