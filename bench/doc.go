// Package bench measures the daemon at scale, from outside, the way an operator
// would: it starts `synchronizer emulate` (the three emulated services) and
// `synchronizer run` as separate processes of the built binary, completes consent
// for every link through the real consent listener, and reports
//
//   - the initial sync: wall time, items per second, peak resident memory of the
//     daemon and of its plugin processes (VmHWM in /proc);
//   - the steady state: provider requests per link and side in a sync cycle that
//     finds nothing to do (from each emulator's GET /_emulator/stats), and the CPU
//     time of the daemon and its plugins for that cycle (utime+stime in /proc);
//   - propagation latency: a change on one side until it is visible on the other,
//     over random creates, edits and deletes made through the emulators' APIs;
//   - the same under injected faults (POST /_emulator/faults: a share of requests
//     throttled with Retry-After, a share failing with 5xx), and at the end of each
//     run a comparison of every link's diary with its calendar: duplicates and lost
//     edits, which must both be zero.
//
// Run is the whole benchmark; cmd/synchronizer-bench is its command line. The
// package talks to loopback only and starts nothing but the binary it is given.
// It is Linux-only (it reads /proc).
package bench
