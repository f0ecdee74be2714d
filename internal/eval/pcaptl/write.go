package pcaptl

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// snaplen is the written files' snapshot length: libpcap's largest, so
// no input frame is longer.
const snaplen = 262144

// WritePcap writes the timeline as a classic pcap file (microsecond
// times, Ethernet), in time order.
func (tl *Timeline) WritePcap(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(snaplen, layers.LinkTypeEthernet); err != nil {
		return fmt.Errorf("write pcap header: %w", err)
	}
	for m, frames := range tl.minutes {
		start := tl.MinuteStart(m)
		for _, f := range frames {
			ci := gopacket.CaptureInfo{Timestamp: start.Add(f.at), CaptureLength: len(f.data), Length: max(f.wire, len(f.data))}
			if err := pw.WritePacket(ci, f.data); err != nil {
				return fmt.Errorf("write frame of minute %d: %w", m, err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write pcap: %w", err)
	}
	return nil
}

// WriteTruth writes the ground truth as tab-separated text: a comment
// line on the timeline, then one line per event.
func (tl *Timeline) WriteTruth(w io.Writer) error {
	local := make([]string, len(tl.Local))
	for i, p := range tl.Local {
		local[i] = p.String()
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# seed=%d start=%s minutes=%d train=%d local=%s\n", tl.Seed, tl.Start.Format(time.RFC3339), tl.Minutes, tl.Train, strings.Join(local, ","))
	fmt.Fprintln(bw, "minute\tstart_utc\tkind\trounds\toffset_s\tframes\tsource")
	for _, ev := range tl.Events {
		fmt.Fprintf(bw, "%d\t%s\t%s\t%d\t%.6f\t%d\t%s\n", ev.Minute, tl.MinuteStart(ev.Minute).Format(time.RFC3339), ev.Kind, ev.Rounds,
			ev.Offset.Seconds(), ev.Frames, ev.Source)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write ground truth: %w", err)
	}
	return nil
}

// Write writes the timeline into dir as timeline.pcap and truth.tsv and
// returns their paths.
func (tl *Timeline) Write(dir string) (pcap, truth string, err error) {
	pcap, truth = filepath.Join(dir, "timeline.pcap"), filepath.Join(dir, "truth.tsv")
	if err := writeFile(pcap, tl.WritePcap); err != nil {
		return "", "", err
	}
	if err := writeFile(truth, tl.WriteTruth); err != nil {
		return "", "", err
	}
	return pcap, truth, nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}
