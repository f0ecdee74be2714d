package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
	"gorgonia.org/tensor"

	"portwatch/pkg/detector"
	"portwatch/pkg/engine"
	"portwatch/pkg/modelfile"
	"portwatch/pkg/nn"
	"portwatch/pkg/onnx"
	"portwatch/pkg/runerr"
)

func modelCommand() *cli.Command {
	return &cli.Command{
		Name:  "model",
		Usage: "create, inspect and run ONNX model files",
		Subcommands: []*cli.Command{
			{
				Name:      "new",
				Usage:     "write a fresh, untrained portae model (v2, with the lag term, for listening channels)",
				UsageText: "detect model new --out FILE [--window T] [--channels a,b,c] [--seed N] [--force]",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "write the model to `FILE` (required)"},
					&cli.IntFlag{Name: "window", Value: 10, Usage: "rounds per window, `T`"},
					&cli.StringFlag{Name: "channels", Value: strings.Join(modelfile.DefaultChannels(), ","), Usage: "comma-separated channel `NAMES`"},
					&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the initial weights"},
					&cli.BoolFlag{Name: "force", Usage: "replace an existing file (kept as FILE.prev)"},
				},
				Action: modelNew,
			},
			{
				Name:      "info",
				Usage:     "print a model's inputs, outputs, ops, parameter count, opset and metadata",
				UsageText: "detect model info FILE",
				Action:    modelInfo,
			},
			{
				Name:      "run",
				Usage:     "run a model on TensorProto files and write one <output name>.pb per output",
				UsageText: "detect model run FILE --input NAME=in.pb ... --output-dir DIR",
				Flags: []cli.Flag{
					&cli.StringSliceFlag{Name: "input", Aliases: []string{"i"}, Usage: "feed input `NAME=FILE.pb` (repeat per input)"},
					&cli.StringFlag{Name: "output-dir", Usage: "write outputs into `DIR` (required)"},
				},
				Action: modelRun,
			},
		},
	}
}

func modelNew(c *cli.Context) error {
	if c.NArg() > 0 {
		return runerr.BadInputf("model new: unexpected argument %q", c.Args().First())
	}
	out := c.String("out")
	if out == "" {
		return runerr.BadInputf("model new: no output file: pass --out FILE")
	}
	var channels []string
	for _, ch := range strings.Split(c.String("channels"), ",") {
		if ch = strings.TrimSpace(ch); ch != "" {
			channels = append(channels, ch)
		}
	}
	if len(channels) == 0 {
		return runerr.BadInputf("--channels: want at least one channel name")
	}
	if c.Int("window") < 1 {
		return runerr.BadInputf("--window %d: want at least 1", c.Int("window"))
	}
	// Sized for the micro-batch cron detect runs it at.
	cfg := modelfile.Config{Window: c.Int("window"), Channels: channels, Seed: c.Uint64("seed"), Batch: detector.DefaultConfig("").Batch}
	if err := cfg.Check(); err != nil {
		return runerr.BadInputf("model new: %v", err)
	}
	if _, err := os.Stat(out); err == nil && !c.Bool("force") {
		return runerr.BadInputf("%s exists; use --force to replace it", out)
	}
	b, err := modelfile.Build(cfg)
	if err != nil {
		return err
	}
	if err := engine.WriteFile(out, b); err != nil {
		return fmt.Errorf("write model %s: %w", out, err)
	}
	fmt.Fprintf(c.App.Writer, "wrote %s: %s, window %d, channels %s\n", out, cfg.Version(), c.Int("window"), strings.Join(channels, ","))
	return nil
}

func modelInfo(c *cli.Context) error {
	if c.NArg() != 1 {
		return runerr.BadInputf("model info: want one model FILE")
	}
	m, err := engine.Load(c.Args().First())
	if err != nil {
		return err
	}
	printInfo(c.App.Writer, m)
	return nil
}

func printInfo(w io.Writer, m *engine.Model) {
	fmt.Fprintf(w, "model:      %s\n", m.Name())
	fmt.Fprintf(w, "ir_version: %d\nopset:      %d\n", m.IRVersion(), m.Opset())
	for _, v := range m.Inputs() {
		fmt.Fprintf(w, "input:      %s %s%s\n", v.Name, onnx.TypeName(v.ElemType), engine.FormatDims(v.Dims))
	}
	for _, v := range m.Outputs() {
		fmt.Fprintf(w, "output:     %s %s%s\n", v.Name, onnx.TypeName(v.ElemType), engine.FormatDims(v.Dims))
	}
	ops := m.Ops()
	names := make([]string, 0, len(ops))
	for op, n := range ops {
		names = append(names, fmt.Sprintf("%s×%d", op, n))
	}
	slices.Sort(names)
	fmt.Fprintf(w, "ops:        %s\n", strings.Join(names, " "))
	fmt.Fprintf(w, "parameters: %d\n", m.ParamCount())
	meta := m.Metadata()
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "metadata:   %s = %s\n", k, meta[k])
	}
	if !modelfile.Calibrated(meta) {
		fmt.Fprintf(w, "metadata:   %s absent (not calibrated yet)\n", modelfile.KeyThreshold)
	}
}

func modelRun(c *cli.Context) error {
	if c.NArg() != 1 {
		return runerr.BadInputf("model run: want one model FILE")
	}
	if c.String("output-dir") == "" {
		return runerr.BadInputf("model run: no output directory: pass --output-dir DIR")
	}
	inputs := map[string]*tensor.Dense{}
	for _, arg := range c.StringSlice("input") {
		name, path, ok := strings.Cut(arg, "=")
		if !ok || name == "" || path == "" {
			return runerr.BadInputf("--input %q: want NAME=FILE.pb", arg)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read input %s: %w", name, err)
		}
		_, t, err := onnx.DecodeTensor(b)
		if err != nil {
			return fmt.Errorf("read input %s from %s: %w", name, path, err)
		}
		inputs[name] = t
	}
	m, err := engine.Load(c.Args().First())
	if err != nil {
		return err
	}
	outs, err := m.Run(inputs)
	if err != nil {
		return err
	}
	dir := c.String("output-dir")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output dir: %w", err)
	}
	for _, o := range m.Outputs() {
		if strings.ContainsAny(o.Name, `/\`) || o.Name == "" || o.Name == "." || o.Name == ".." {
			return fmt.Errorf("output name %q cannot be a file name", o.Name)
		}
		b, err := onnx.AppendTensor(nil, o.Name, outs[o.Name])
		if err != nil {
			return err
		}
		path := filepath.Join(dir, o.Name+".pb")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return fmt.Errorf("write output %s: %w", o.Name, err)
		}
		fmt.Fprintf(c.App.Writer, "%s %v -> %s\n", o.Name, nn.Shape(outs[o.Name]), path)
	}
	return nil
}
