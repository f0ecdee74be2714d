// Package e2e holds portwatch's end-to-end tests. They build the real
// collect, detect and cleanup binaries once (TestMain) and drive them as cron
// and a user do, against real SQLite files and captures they generate
// (pkg/capture/capturetest), with the faults DESIGN.md names: kill -9 at
// random moments, overlapping runs of the three programs, a full disk (a small tmpfs) and a
// read-only database (a read-only mount, and a file the user cannot write).
//
// Every test is slow and skips under -short. Random kill delays come from
// -seed (0: the clock); each test logs the seed it used, so a failure can be
// replayed with go test ./e2e -run NAME -seed N.
//
// The tests that mount need root (CAP_SYS_ADMIN) and skip, saying so, when
// mount fails.
package e2e
