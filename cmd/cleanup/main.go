// Command cleanup deletes stale portwatch data and keeps the database small.
//
//	cleanup -d DB [--keep 7d] [--keep-packets 1d] [--keep-anomalies 90d] [--max-size SIZE] [--dry-run]
//
// Cron runs it daily. The rules are pkg/cleanup's; this file reads flags,
// takes cleanup's own lock (collect and detect may run meanwhile) and prints
// the one summary line.
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/urfave/cli/v2"

	"portwatch/pkg/cleanup"
	"portwatch/pkg/command"
	"portwatch/pkg/store"
)

func main() {
	os.Exit(command.Run(newApp(), os.Args, os.Stderr))
}

func newApp() *cli.App {
	return &cli.App{
		Name:      "cleanup",
		Usage:     "delete stale portwatch rounds and keep the database small",
		UsageText: "cleanup -d DB [--keep 7d] [--keep-packets 1d] [--keep-anomalies 90d] [--max-size SIZE] [--dry-run]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Aliases: []string{"d"}, Required: true, Usage: "the portwatch database `FILE`"},
			&cli.StringFlag{Name: "keep", Value: "7d", Usage: "delete rounds older than `AGE` (unscored ones at twice that)"},
			&cli.StringFlag{Name: "keep-packets", Value: "1d", Usage: "delete the packet rows of rounds older than `AGE`, keeping the rounds and their traffic summaries"},
			&cli.StringFlag{Name: "keep-anomalies", Value: "90d", Usage: "keep anomalies, and the rounds they point at, for `AGE`"},
			&cli.StringFlag{Name: "max-size", Usage: "then delete the oldest rounds until the data is under `SIZE` (e.g. 500M, 2G)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print what would be deleted and freed; change nothing"},
			command.LogFormatFlag(),
		},
		Action: run,
	}
}

func run(c *cli.Context) error {
	log, err := command.Logger(c, c.App.ErrWriter)
	if err != nil {
		return err
	}
	var opt cleanup.Options
	if opt.Keep, err = command.ParseDuration(c.String("keep")); err != nil {
		return command.Usagef("--keep: %w", err)
	}
	if opt.KeepPackets, err = command.ParseDuration(c.String("keep-packets")); err != nil {
		return command.Usagef("--keep-packets: %w", err)
	}
	if opt.KeepAnomalies, err = command.ParseDuration(c.String("keep-anomalies")); err != nil {
		return command.Usagef("--keep-anomalies: %w", err)
	}
	if s := c.String("max-size"); s != "" {
		if opt.MaxSize, err = command.ParseSize(s); err != nil {
			return command.Usagef("--max-size: %w", err)
		}
	}
	opt.DryRun = c.Bool("dry-run")

	path := c.String("db")
	// Cleaning a database that is not there would create an empty one.
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return command.Usagef("database %s does not exist; pass the file collect writes", path)
	}
	lock, err := store.TryLock(path, "cleanup")
	if err != nil {
		return err
	}
	defer lock.Unlock()
	db, err := store.Open(c.Context, path, store.WithLogger(log))
	if err != nil {
		return err
	}
	defer db.Close()

	rep, err := cleanup.Run(c.Context, db, path, opt)
	if err != nil {
		return fmt.Errorf("clean %s: %w", path, err)
	}
	fmt.Fprintln(c.App.Writer, rep)
	log.Info("cleanup done", "db", path, "dry_run", rep.DryRun, "rounds", rep.Rounds,
		"rounds_ports", rep.RoundsPorts, "packets", rep.Packets, "anomalies", rep.Anomalies, "bytes_freed", rep.BytesFreed)
	return nil
}
