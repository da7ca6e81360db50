package workspace

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
)

// TestChanges checks the fsmonitor answers: a path changed after a token
// is reported with the next query and not again, directories are reported
// whole, and anything the watcher cannot vouch for gets a full answer.
func TestChanges(t *testing.T) {
	ctx := t.Context()
	root := gittest.NewRepo(t, map[string]string{"a.txt": "a\n", "sub/b.txt": "b\n", ".gitignore": "deps/\n"})
	if err := os.MkdirAll(filepath.Join(root, "deps/pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := NewWatcher(testGit(), WatcherOptions{CookieDir: filepath.Join(t.TempDir(), "cookies")})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	stop, err := w.Add(ctx, WatchRoot{Dir: root, GitIgnore: true, Notify: func(WatchBatch) {}})
	if err != nil {
		t.Fatal(err)
	}

	// git's first token is a time: everything may have changed.
	first := w.Changes(ctx, root, "1700000000000000000")
	if !first.Full || !strings.HasPrefix(first.Token, "studiod:") {
		t.Fatalf("first answer: %+v, want full with a studiod token", first)
	}
	gittest.Write(t, root, map[string]string{"a.txt": "changed\n", "new/c.txt": "c\n"})
	if err := os.WriteFile(filepath.Join(root, "deps/pkg/x.js"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// No waiting: Changes itself makes sure the writes above were seen.
	got := w.Changes(ctx, root, first.Token)
	if got.Full {
		t.Fatalf("second answer is full: %s", got.Why)
	}
	for _, want := range []string{"a.txt", "new/", "deps/"} {
		if !slices.Contains(got.Paths, want) {
			t.Errorf("paths %q miss %q", got.Paths, want)
		}
	}
	if slices.Contains(got.Paths, "sub/b.txt") {
		t.Errorf("paths %q report an unchanged file", got.Paths)
	}
	again := w.Changes(ctx, root, got.Token)
	if again.Full || slices.Contains(again.Paths, "a.txt") {
		t.Errorf("third answer repeats old changes: %+v", again)
	}
	// A removed directory is reported whole.
	if err := os.RemoveAll(filepath.Join(root, "sub")); err != nil {
		t.Fatal(err)
	}
	gone := w.Changes(ctx, root, again.Token)
	if !slices.Contains(gone.Paths, "sub/") {
		t.Errorf("removed directory: paths %q miss sub/", gone.Paths)
	}

	for _, tc := range []struct{ name, dir, token string }{
		{"unknown token", root, "studiod:nope:1"},
		{"garbage token", root, "x"},
		{"unwatched directory", t.TempDir(), gone.Token},
	} {
		if a := w.Changes(ctx, tc.dir, tc.token); !a.Full || len(a.Paths) > 0 {
			t.Errorf("%s: got %+v, want a full answer", tc.name, a)
		}
	}
	// The removal's events may still be on their way: once a later write
	// is seen, they have all been taken in (inotify keeps their order).
	gittest.Write(t, root, map[string]string{"sentinel.txt": "s\n"})
	for tok, deadline := gone.Token, time.Now().Add(time.Minute); ; {
		a := w.Changes(ctx, root, tok)
		if slices.Contains(a.Paths, "sentinel.txt") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the write of sentinel.txt never reported: %+v", a)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mark := w.Mark(root)
	if w.ChangedSince(ctx, root, mark) {
		t.Error("ChangedSince: a change reported where there was none")
	}
	gittest.Write(t, root, map[string]string{"a.txt": "again\n"})
	if !w.ChangedSince(ctx, root, mark) {
		t.Error("ChangedSince: a write right before the call was missed")
	}
	stop()
	if w.Mark(root) != "" || !w.ChangedSince(ctx, root, mark) {
		t.Error("an unwatched root: Mark gave a token or ChangedSince said unchanged")
	}
	if a := w.Changes(ctx, root, gone.Token); !a.Full {
		t.Errorf("after unwatching: got %+v, want a full answer", a)
	}

	// Without a cookie directory nothing can be vouched for.
	w2, err := NewWatcher(testGit(), WatcherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	stop2, _ := w2.Add(ctx, WatchRoot{Dir: root, GitIgnore: true, Notify: func(WatchBatch) {}})
	defer stop2()
	tok := w2.Changes(ctx, root, "").Token
	if a := w2.Changes(ctx, root, tok); !a.Full {
		t.Errorf("no cookie directory: got %+v, want a full answer", a)
	}
}

// TestChangesOverflowLog checks that a token older than what the bounded
// log holds gets a full answer.
func TestChangesOverflowLog(t *testing.T) {
	ctx := t.Context()
	root := gittest.NewRepo(t, nil)
	w, err := NewWatcher(testGit(), WatcherOptions{CookieDir: filepath.Join(t.TempDir(), "cookies")})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	stop, err := w.Add(ctx, WatchRoot{Dir: root, GitIgnore: true, Notify: func(WatchBatch) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	tok := w.Changes(ctx, root, "").Token
	w.mu.Lock()
	r := w.roots[root]
	for i := 0; i < changeLogMax+10; i++ {
		w.logChange(r, "f", false)
	}
	w.mu.Unlock()
	if a := w.Changes(ctx, root, tok); !a.Full {
		t.Errorf("got %+v, want a full answer", a)
	}
}
