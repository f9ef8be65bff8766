// Package sandbox runs an agent's command: with exactly the environment it
// is given, a wall-clock limit, in a process group of its own that is
// killed entirely (SIGTERM, then SIGKILL after a grace period) on timeout,
// cancellation, or when the command exits and leaves children behind; and,
// when a bwrap binary is configured, inside a bubblewrap sandbox.
//
// In the sandbox the agent sees the system's programs and libraries
// read-only (/usr and the /bin, /lib... links or directories), a short
// list of harmless files from /etc (resolver, users, CA certificates,
// dynamic linker cache, time zone, the system gitconfig), fresh /proc,
// /dev and /tmp, its working directory and the Writable directories
// read-write and the ReadOnly ones read-only, all at their own paths; no
// other file of the host, and nothing else writable (the root bwrap builds
// is remounted read-only). Namespaces are all unshared (the network too
// unless Spec.Network), capabilities are dropped, the agent gets a new
// session and dies with its parent. Signals go to bwrap; when it dies, the
// kernel kills everything in the sandbox's PID namespace at once.
//
// What this package must not do: pass the agent anything of agentgate's
// own environment that the caller did not put in Spec.Env (ScrubbedEnv
// builds that, and never lets through AGENTGATE_* settings, private keys
// or GitHub tokens); put environment values in bwrap's argv, where `ps`
// and the sandbox's own /proc/1/cmdline would show them; bind / or /etc
// whole; or let a run outlive Run.
package sandbox
