package workspace

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FileVersion is the content of one version of a file. Missing says the
// file does not exist in that version (Content is then empty).
type FileVersion struct {
	Content []byte
	Missing bool
	// Binary is git's test (a NUL byte in the first 8000 bytes) or content
	// that is not UTF-8, which a JSON string cannot carry unchanged.
	Binary bool
}

// ErrNotFile reports a path that names a directory, a submodule or another
// thing without file content.
var ErrNotFile = errors.New("not a file")

// IsBinary reports whether content should be shown as binary.
func IsBinary(content []byte) bool {
	head := content
	if len(head) > 8000 {
		head = head[:8000]
	}
	return bytes.IndexByte(head, 0) >= 0 || !utf8.Valid(content)
}

// FileAt returns path (repository-relative) as it is in rev, a commit or
// tree, read from dir (any worktree of the repository). A symbolic link's
// content is its target, as git stores it. A rev that does not exist is
// ErrBadRef; a path that does not exist in rev is Missing.
func (g *Git) FileAt(ctx context.Context, dir, rev, path string) (FileVersion, error) {
	if err := ValidateRefArg(rev); err != nil {
		return FileVersion{}, err
	}
	if err := ValidatePath(path); err != nil {
		return FileVersion{}, err
	}
	// One process answers both questions: does rev name a tree, and what is
	// at rev:path.
	in := "info " + rev + "^{tree}\ncontents " + rev + ":" + path + "\n"
	out, err := g.RunCmd(ctx, Cmd{Dir: dir, Stdin: strings.NewReader(in)}, "cat-file", "--batch-command")
	if err != nil {
		return FileVersion{}, fmt.Errorf("read %s at %s: %w", path, rev, err)
	}
	br := bufio.NewReader(bytes.NewReader(out))
	typ, _, err := readBatchHeader(br)
	if err != nil {
		return FileVersion{}, fmt.Errorf("read %s at %s: %w", path, rev, err)
	}
	if typ != "tree" {
		return FileVersion{}, fmt.Errorf("%w: %q is not a commit or tree", ErrBadRef, rev)
	}
	typ, size, err := readBatchHeader(br)
	if err != nil {
		return FileVersion{}, fmt.Errorf("read %s at %s: %w", path, rev, err)
	}
	switch typ {
	case "missing":
		return FileVersion{Missing: true}, nil
	case "blob":
	default:
		return FileVersion{}, fmt.Errorf("%s at %s: %w (a %s)", path, rev, ErrNotFile, typ)
	}
	content := make([]byte, size)
	if _, err := io.ReadFull(br, content); err != nil {
		return FileVersion{}, fmt.Errorf("read %s at %s: %w", path, rev, err)
	}
	return FileVersion{Content: content, Binary: IsBinary(content)}, nil
}

// readBatchHeader reads "<oid> <type> <size>" or "<name> missing" (also
// "ambiguous") from cat-file's batch output; type is "missing" for both.
func readBatchHeader(br *bufio.Reader) (typ string, size int64, err error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", 0, fmt.Errorf("cat-file: short output: %w", err)
	}
	line = strings.TrimSuffix(line, "\n")
	if strings.HasSuffix(line, " missing") || strings.HasSuffix(line, " ambiguous") {
		return "missing", 0, nil
	}
	f := strings.Fields(line)
	if len(f) != 3 {
		return "", 0, fmt.Errorf("cat-file: bad header %q", line)
	}
	size, err = strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("cat-file: bad header %q", line)
	}
	return f[1], size, nil
}

// ReadWorktreeFile reads path (repository-relative, slash-separated) from the
// worktree at root. The path may not leave the worktree, neither with ".."
// nor through a symbolic link (links inside the worktree are followed), and
// may not reach into .git. A path that does not exist is Missing.
func ReadWorktreeFile(root, path string) (FileVersion, error) {
	if err := ValidatePath(path); err != nil {
		return FileVersion{}, err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return FileVersion{}, fmt.Errorf("read %s: %w", path, err)
	}
	defer r.Close()
	f, err := r.Open(filepath.FromSlash(path))
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return FileVersion{Missing: true}, nil
		case errors.Is(err, fs.ErrPermission):
			return FileVersion{}, fmt.Errorf("read %s: %w", path, err)
		}
		// os.Root refuses links that leave root with an unexported error.
		return FileVersion{}, fmt.Errorf("%w: %s: %v", ErrBadPath, path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return FileVersion{}, fmt.Errorf("read %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return FileVersion{}, fmt.Errorf("%s: %w", path, ErrNotFile)
	}
	content, err := io.ReadAll(f)
	if err != nil {
		return FileVersion{}, fmt.Errorf("read %s: %w", path, err)
	}
	return FileVersion{Content: content, Binary: IsBinary(content)}, nil
}
