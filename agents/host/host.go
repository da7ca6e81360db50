package host

import (
	"context"
	"errors"
	"io"
	"syscall"
	"time"

	"github.com/studiod/studiod/agents/shim"
	"github.com/studiod/studiod/workspace"
)

// Runtime provides sessions' workspaces and runs their agent processes.
type Runtime interface {
	// Acquire makes a session's workspace: spec.Path checked out on the
	// new branch spec.Branch at commit spec.Base.
	Acquire(ctx context.Context, spec WorkspaceSpec) (Workspace, error)
	// Workspace is a handle on a workspace acquired earlier, by this
	// daemon or an earlier one.
	Workspace(spec WorkspaceSpec) Workspace
	// Start starts spec.Argv in spec.Dir for session spec.ID, and returns
	// once the process runs. The process outlives the caller's context
	// and, on a runtime that can, the daemon.
	Start(ctx context.Context, spec ProcSpec) (Proc, error)
	// Reattach is a handle on session id's process, started by this
	// daemon or an earlier one, whether or not it still runs (Status
	// says). It fails only when the runtime cannot be reached.
	Reattach(ctx context.Context, id string) (Proc, error)
}

// WorkspaceSpec says which workspace a session has.
type WorkspaceSpec struct {
	Repo    *workspace.Repo
	Session string // the session's ID
	Path    string // the worktree
	Branch  string
	Base    string // the commit the branch starts at
	Target  string // the branch the session merges into
}

// Workspace is a session's worktree.
type Workspace interface {
	// Path is where the worktree is checked out.
	Path() string
	// Copy copies the files matching globs (relative to the repository,
	// and staying inside it) from the repository's main worktree, as
	// copy-on-write clones where the file system has them; it never
	// overwrites what the checkout has. It says how many files it copied
	// and how many of those were cloned.
	Copy(globs []string) (copied, cloned int, err error)
	// Setup runs a trusted setup command (sh -c) in the worktree with
	// env, its output appended to the file logPath.
	Setup(ctx context.Context, env []string, command, logPath string) error
	// Release gives the workspace up; the branch stays.
	Release(ctx context.Context, how Release) error

	// What the core reads of a session's files goes through the methods
	// below: paths are relative to the worktree, slash-separated; commits
	// are the repository's (a remote runtime's snapshots live where its
	// worktree does).

	// Exists reports whether the worktree is still there (false once it
	// was removed, or deleted behind studiod's back).
	Exists(ctx context.Context) (bool, error)
	// Snapshot records the worktree as it is now, uncommitted and
	// untracked (not ignored) files included, as a commit whose parent is
	// its HEAD, without touching its index or files. Callers take one at
	// a time per workspace.
	Snapshot(ctx context.Context) (workspace.Snapshot, error)
	// Diff is the change from commit from to commit to (a snapshot's
	// included), limited to paths when any are given; stat: the counts
	// without the hunks.
	Diff(ctx context.Context, from, to string, paths []string, stat bool) ([]workspace.FileDiff, error)
	// ReadFile reads path as the worktree has it now. The path may not
	// leave the worktree nor reach into .git; one that does not exist is
	// Missing.
	ReadFile(ctx context.Context, path string) (workspace.FileVersion, error)
	// FileAt reads path at rev, a commit of the repository (a snapshot,
	// the base, a branch). A path rev does not have is Missing.
	FileAt(ctx context.Context, rev, path string) (workspace.FileVersion, error)
	// Changes says which paths changed since token, a token from an
	// earlier answer, as git's fsmonitor hook asks; a Full answer when it
	// cannot vouch for the worktree (not watched, an unknown token).
	Changes(ctx context.Context, token string) (workspace.FsmonitorAnswer, error)
	// Watch calls fn with each batch of paths that changed in the
	// worktree (git-ignored directories left out), until stop is called.
	// fn runs on the watcher's goroutine and must not block.
	Watch(ctx context.Context, fn func(workspace.WatchBatch)) (stop func(), err error)
}

// Release says how a workspace is given up.
type Release int

const (
	// Keep refuses a worktree with uncommitted or untracked files.
	Keep Release = iota
	// Force discards them.
	Force
	// Discard removes the worktree as Force does, and never recycles it
	// (a spawn rolled back leaves nothing behind).
	Discard
)

// Mode is how a process is connected.
type Mode int

const (
	// Terminal runs the agent on a terminal, rendered into a screen.
	Terminal Mode = iota
	// Pipes runs the agent on stdio pipes; its log is a sequence of
	// Records.
	Pipes
)

// ProcSpec is what Start runs.
type ProcSpec struct {
	ID         string // the session's ID
	Argv       []string
	Dir        string   // the worktree
	Env        []string // the full environment
	Rows, Cols int      // the terminal's size (Terminal mode; 0: the default)
	Mode       Mode
	// LogLimit caps the bytes the log keeps: older output is rotated
	// out. 0 keeps everything.
	LogLimit int64
}

// Proc is one session's agent process. Offsets count every byte the agent
// wrote since the process started, including output the log no longer
// keeps.
type Proc interface {
	ID() string
	// PID is the agent's process id on its machine, 0 when unknown.
	PID() int
	// Attach streams the output from offset (negative: from the end)
	// and follows it live. The stream ends (io.EOF) once the agent has
	// exited and everything was delivered, or when the reader lagged too
	// far behind: Status tells the two apart. ErrGone: no process runs.
	Attach(ctx context.Context, offset int64) (Stream, error)
	// Input types data into the agent's terminal (Pipes: writes one
	// message to its stdin).
	Input(ctx context.Context, data []byte) error
	// Resize sets the terminal's size.
	Resize(ctx context.Context, rows, cols int) error
	// Signal sends sig to the agent's process group. ErrGone: no
	// process runs.
	Signal(ctx context.Context, sig syscall.Signal) error
	// Status says the process runs, and how much it has written.
	// ErrGone: it does not.
	Status(ctx context.Context) (Status, error)
	// Screen is the terminal as a person would see it now.
	Screen(ctx context.Context) (Screen, error)
	// WaitGone waits, up to d, until a process told to end has gone.
	WaitGone(d time.Duration)
	// Exit is the exit status the process left; an error wrapping
	// os.ErrNotExist when it left none (it runs, or was killed with
	// what watched it).
	Exit() (*Exit, error)
	// ClearExit forgets the exit status, before the session's process is
	// started again.
	ClearExit() error
	// OpenLog opens the log of the output for reading.
	OpenLog() (Log, error)
	// Head is the start of a Pipes log (the protocol's handshake), kept
	// when older output was rotated out; nil when there is none.
	Head() []byte
	// RemoveLog deletes the log, to free the disk it filled.
	RemoveLog() error
	// Sweep ends whatever of the session still runs once the process that
	// held it is gone, and says how many processes it ended. With a live
	// process it would kill the agent behind its back.
	Sweep() int
	// Endpoints says where local tools reach the process directly.
	Endpoints() Endpoints
}

// Stream is an attached output stream. Offset is where it starts.
type Stream interface {
	io.ReadCloser
	Offset() int64
}

// Log reads the output a process logged: ReadAt from Start to End.
type Log interface {
	io.ReaderAt
	io.Closer
	Start() int64 // the first byte the log still keeps
	End() int64   // the offset after the last byte logged
}

// Endpoints are where tools on this machine can reach a process directly
// (`studiod attach`); empty on a runtime that has no such thing.
type Endpoints struct {
	Socket string
	Log    string
}

// ErrGone reports that the session's process no longer runs.
var ErrGone = shim.ErrGone

// The shim's types are the runtime's: what a terminal shows, a process's
// status and exit, and a Pipes log's records.
type (
	Screen = shim.ScreenState
	Status = shim.Status
	Exit   = shim.Exit
	Record = shim.Record
)

// Who wrote a Record.
const (
	FromAgent  = shim.FromAgent
	FromClient = shim.FromClient
	FromStderr = shim.FromStderr
	FromShim   = shim.FromShim
)

// IsGone reports whether err says the process no longer runs.
func IsGone(err error) bool { return errors.Is(err, ErrGone) }
