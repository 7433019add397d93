package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/bedside-health/bedside/clients/client"
)

type callOptions struct {
	admitAll     bool
	duration     time.Duration
	reportEvery  time.Duration
	loopbackOnly bool
	label        string
}

func callFlags(fs *flag.FlagSet, e *env) {
	fs.BoolVar(&e.call.admitAll, "admit-all", false, "as a host, admit everyone who enters the waiting room")
	fs.DurationVar(&e.call.duration, "duration", 0,
		"leave this long after media started, such as 10s (default: stay until interrupted)")
	fs.DurationVar(&e.call.reportEvery, "report-every", 2*time.Second, "interval of the media reports")
	fs.BoolVar(&e.call.loopbackOnly, "loopback-only", false,
		"gather ICE candidates on the loopback interface only (tests with a server on this machine)")
	fs.StringVar(&e.call.label, "label", "bedside-client", "device label the other participants see")
}

func runCall(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return usagef("call needs one consultation id")
	}
	return e.withClient(func(c *client.Client) error {
		report, err := c.Call(ctx, client.CallOptions{
			ConsultationID: args[0],
			Label:          e.call.label,
			AdmitAll:       e.call.admitAll,
			Duration:       e.call.duration,
			ReportInterval: e.call.reportEvery,
			LoopbackOnly:   e.call.loopbackOnly,
			Event:          func(s string) { fmt.Fprintln(e.io.Out, s) },
			Report:         func(r client.CallReport) { e.printReport("report", r) },
		})
		if err != nil {
			return err
		}
		e.printReport("summary", *report)
		return nil
	})
}

func (e *env) printReport(kind string, r client.CallReport) {
	fmt.Fprintf(e.io.Out,
		"%s after %s: connected %t (now %s), sent %d audio and %d video frames, receiving %d tracks\n",
		kind, r.Elapsed, r.Connected, r.State, r.AudioSent, r.VideoSent, len(r.Tracks))
	if r.Reconnects > 0 || r.MediaSessions > 1 {
		fmt.Fprintf(e.io.Out, "  %d reconnects, %d ICE restarts, %d media sessions\n",
			r.Reconnects, r.ICERestarts, r.MediaSessions)
	}
	for _, t := range r.Tracks {
		ended := ""
		if t.Ended {
			ended = ", ended"
		}
		fmt.Fprintf(e.io.Out, "  from %s %s (%s): %d packets, %d bytes%s\n",
			t.StreamID, t.Kind, t.Codec, t.Packets, t.Bytes, ended)
	}
}
