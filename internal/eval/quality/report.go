package quality

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Print writes results as one table, a block of rows per kind with a row
// per detector, so detectors compare at a glance.
func Print(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\tdetector\tevents\tdetected\tprecision\trecall\tF1\tfalse/day\tTTD mean\tTTD max\trecall@1/day\t")
	if len(results) > 0 {
		for k := range results[0].Kinds {
			for _, r := range results {
				if k >= len(r.Kinds) {
					continue
				}
				s := r.Kinds[k]
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.1f\t%.0f\t%.2f\t\n", s.Kind, r.Detector,
					s.Events, s.Detected, s.Precision, s.Recall, s.F1, s.FalseAlarmsPerDay, s.TTDMean, s.TTDMax, s.RecallAt1)
			}
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "detector\tfalse alarms\tnormal days\thighest normal\tlowest event\ttrain\tscore\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.3g\t%.3g\t%v\t%v\t\n", r.Detector, r.FalseAlarms, r.NormalDays, r.MaxNormal, r.MinEvent,
			r.Train.Round(time.Millisecond), r.Score.Round(time.Millisecond))
	}
	if len(results) > 0 && len(results[0].Phenomena) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "false alarms/day in\tdetector\tnormal rounds\tfalse alarms\tfalse/day\t")
		for k := range results[0].Phenomena {
			for _, r := range results {
				p := r.Phenomena[k]
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.2f\t\n", p.Phenomenon, r.Detector, p.Rounds, p.FalseAlarms, p.FalseAlarmsPerDay)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print quality report: %w", err)
	}
	return nil
}

// PrintEvents writes what r's detector made of each event, beside the
// score that recall at 1 false alarm a day asks for.
func PrintEvents(w io.Writer, r Result) error {
	fmt.Fprintf(w, "%s: events (scores above %.4g would give 1 false alarm a day)\n", r.Detector, r.AtOneADay)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "kind\tstart\trounds\tport\tdetected\tTTD\tmax score\tdetail")
	for _, o := range r.Events {
		ttd := "-"
		if o.Detected {
			ttd = fmt.Sprint(o.TTD)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%v\t%s\t%.4g\t%s\n", o.Kind, o.Start, o.End-o.Start, o.Port, o.Detected, ttd, o.MaxScore, o.Detail)
	}
	if len(r.Flagged) > 0 {
		fmt.Fprintln(tw, "false alarm\tround\t\t\t\t\tscore\twhy")
	}
	for _, v := range r.Flagged {
		fmt.Fprintf(tw, "false alarm\t%d\t\t\t\t\t%.4g\t%s\n", v.Round, v.Score, v.Why)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print events of %s: %w", r.Detector, err)
	}
	return nil
}
