package cli

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressMinBytes is the transfer size from which a progress bar is
// drawn.
const progressMinBytes = 1 << 20

// progressBar draws one line on stderr, redrawn at most ten times a
// second.
type progressBar struct {
	w       io.Writer
	label   string
	last    time.Time
	drawn   bool
	current int64
	total   int64
}

func newProgressBar(w io.Writer, label string) *progressBar {
	return &progressBar{w: w, label: label}
}

// update is a client.Progress.
func (p *progressBar) update(done, total int64) {
	p.current, p.total = done, total
	if total < progressMinBytes || (time.Since(p.last) < 100*time.Millisecond && done < total) {
		return
	}
	p.last = time.Now()
	p.draw()
}

func (p *progressBar) draw() {
	const width = 30
	frac := float64(p.current) / float64(max(p.total, 1))
	filled := int(frac * width)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %.1f/%.1f MiB", p.label, strings.Repeat("#", filled),
		strings.Repeat("-", width-filled), 100*frac, float64(p.current)/(1<<20), float64(p.total)/(1<<20))
	p.drawn = true
}

// done ends the line if a bar was drawn.
func (p *progressBar) done() {
	if p.drawn {
		p.draw()
		fmt.Fprintln(p.w)
	}
}
