// Command detect scores new rounds with portwatch's ONNX autoencoder, stores
// anomalies, groups them into incidents (pushed with --notify, --syslog,
// --webhook; counted with --metrics), refits the model on normal and
// accepted rounds and saves it. Its subcommands list and accept incidents
// and show the installation's state:
//
//	detect incidents -d DB [--open] [--json]
//	detect accept -d DB [--note WHY] ID | --port 8443/tcp [--process NAME] [--address ADDR]
//	detect accepted -d DB
//	detect unaccept -d DB ID
//	detect status -d DB
//
// Its `model` subcommands create, inspect and run model files:
//
//	detect model new --out portae.onnx [--window 10] [--channels tcp_listen,udp_bound,tcp_conn,tcp_listen_wildcard]
//	detect model info portae.onnx
//	detect model run portae.onnx --input occupancy=in.pb --output-dir out/
package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"portwatch/pkg/command"
)

func main() {
	os.Exit(command.Run(newApp(), flagsFirst(os.Args), os.Stderr))
}

func newApp() *cli.App {
	flags, required := deferRequired(detectFlags())
	return &cli.App{
		Name:  "detect",
		Usage: "score new rounds with the port autoencoder, store anomalies, refit and save the model",
		Flags: flags,
		Action: func(c *cli.Context) error {
			for _, name := range required {
				if !c.IsSet(name) {
					return command.Usagef("Required flag %q not set", name)
				}
			}
			return runDetect(c)
		},
		Commands: append([]*cli.Command{modelCommand()}, incidentCommands()...),
	}
}

// deferRequired clears Required on the detect action's string flags and
// returns their names: urfave/cli checks an app's required flags before any
// subcommand, and `detect model ...` needs no database.
func deferRequired(flags []cli.Flag) ([]cli.Flag, []string) {
	var required []string
	for _, f := range flags {
		if s, ok := f.(*cli.StringFlag); ok && s.Required {
			s.Required = false
			required = append(required, s.Name)
		}
	}
	return flags, required
}
