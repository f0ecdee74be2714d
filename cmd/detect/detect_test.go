package main

import (
	"bytes"
	"testing"

	"portwatch/internal/clitest"
	"portwatch/pkg/command"
)

func TestMain(m *testing.M) { clitest.Main(m, "detect", main) }

// TestScripts runs testdata/*.txtar: usage, bad flags and input, exit
// codes, output, the cron job, range runs and trainings on real databases.
func TestScripts(t *testing.T) { clitest.Run(t, "testdata") }

// run runs detect with args in-process and returns its exit code, stdout
// and stderr, for the Go tests that read the database between runs.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &stdout, &stderr
	code := command.Run(app, append([]string{"detect"}, args...), &stderr)
	return code, stdout.String(), stderr.String()
}
