// Command detect scores new rounds with portwatch's ONNX autoencoder, stores
// anomalies, groups them into incidents (pushed with --notify, --syslog,
// --webhook; counted with --metrics), refits the model on normal and
// accepted rounds and saves it (pkg/detectjob runs it). Its subcommands list and accept incidents
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
	os.Exit(command.Run(newApp(), os.Args, os.Stderr))
}

func newApp() *cli.App {
	return &cli.App{
		Name:     "detect",
		Usage:    "score new rounds with the port autoencoder, store anomalies, refit and save the model",
		Flags:    detectFlags(),
		Action:   runDetect,
		Commands: append([]*cli.Command{modelCommand()}, incidentCommands()...),
	}
}
