package main

import (
	"testing"

	"portwatch/internal/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m, "cleanup", main) }

// TestScripts runs testdata/*.txtar: usage, bad flags, exit codes, output.
func TestScripts(t *testing.T) { clitest.Run(t, "testdata") }
