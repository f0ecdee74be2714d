package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// detectFlags are the flags of the default action.
func detectFlags() []cli.Flag { return nil }

// runDetect is the default action; its issue replaces this file.
func runDetect(c *cli.Context) error {
	return errors.New("not built yet (see the open issue for detect); `detect model` works")
}
