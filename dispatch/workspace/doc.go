// Package workspace keeps a cached bare mirror of each repository, makes a
// fresh worktree from it for every agent run, and lands what the agent left
// there: one commit made by agentgate, pushed with an installation token.
//
// Layout: Mirrors.Dir/<owner>/<name>.git is the mirror (refs/heads/* and
// tags only, never refs/pull/*), next to <name>.git.lock, the lock file that
// serialises syncs across processes. A worktree is registered in the mirror
// with `git worktree add`, so the mirror's gc keeps its base commit, but the
// agent never touches the mirror: the worktree's .git is turned into a small
// repository of its own whose objects/info/alternates points at the
// mirror's objects. The agent's commits, index and refs stay inside the
// worktree, which is all a sandbox has to make writable; the mirror's
// objects are needed read-only (Worktree.SharedDirs). Were the agent to
// write into the mirror's worktrees/<name> directory instead, a commit it
// made in a sandbox would leave a HEAD the mirror cannot resolve, and every
// later fetch of the repository would fail with "bad object".
//
// What this package must not do:
//   - put a token in argv, a URL, an error, a log line or a file, or let
//     git prompt, run hooks, sign, or read the user's or the system's git
//     configuration: every git command runs through internal/gitexec,
//     which hands tokens over in git's environment and redacts its output;
//   - trust anything the agent wrote under the worktree's .git: Collect and
//     Remove name the mirror and the worktree explicitly and read nothing
//     from it (an agent could otherwise plant config that runs commands
//     outside its sandbox);
//   - force-push: Push fast-forwards unless the caller asks for a lease.
package workspace
