// Command cleanup deletes stale portwatch data and keeps the database small.
//
//	cleanup -d DB [--keep 7d] [--keep-packets 1d] [--keep-anomalies 90d] [--max-size SIZE] [--dry-run]
//
// Cron runs it daily. The rules and the run are pkg/cleanup's; this file
// reads the flags into cleanup.Options.
package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"portwatch/pkg/cleanup"
	"portwatch/pkg/command"
	"portwatch/pkg/runerr"
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
			&cli.StringFlag{Name: "db", Aliases: []string{"d"}, Usage: "the portwatch database `FILE` (required)"},
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
	if err := command.NoArgs(c); err != nil {
		return err
	}
	if err := command.NeedDB(c); err != nil {
		return err
	}
	log, err := command.Logger(c, c.App.ErrWriter)
	if err != nil {
		return err
	}
	opt := cleanup.Options{DB: c.String("db"), DryRun: c.Bool("dry-run"), Out: c.App.Writer}
	if opt.Keep, err = command.ParseDuration(c.String("keep")); err != nil {
		return runerr.BadInputf("--keep: %w", err)
	}
	if opt.KeepPackets, err = command.ParseDuration(c.String("keep-packets")); err != nil {
		return runerr.BadInputf("--keep-packets: %w", err)
	}
	if opt.KeepAnomalies, err = command.ParseDuration(c.String("keep-anomalies")); err != nil {
		return runerr.BadInputf("--keep-anomalies: %w", err)
	}
	if s := c.String("max-size"); s != "" {
		if opt.MaxSize, err = command.ParseSize(s); err != nil {
			return runerr.BadInputf("--max-size: %w", err)
		}
	}
	return cleanup.Run(c.Context, opt, log)
}
