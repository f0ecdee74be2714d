// Command detect scores new rounds with portwatch's ONNX autoencoder, stores
// anomalies, refits the model on normal rounds and saves it (pkg/detectjob
// runs it). Its `model` subcommands create, inspect and run model files:
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
		Commands: []*cli.Command{modelCommand()},
	}
}
