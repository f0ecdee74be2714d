package main

import (
	"testing"

	"portwatch/internal/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m, "detect", main) }

// TestScripts runs testdata/*.txtar: usage, bad flags and input, exit
// codes, output, the cron job, range runs and trainings on real databases.
func TestScripts(t *testing.T) { clitest.Run(t, "testdata") }
