package pionlog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLevelMapping(t *testing.T) {
	var buf bytes.Buffer
	l := Factory{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: LevelTrace}))}.NewLogger("ice")
	cases := []struct {
		write func()
		want  string
	}{
		{func() { l.Trace("t") }, "level=DEBUG-4"},
		{func() { l.Debugf("d %d", 1) }, "level=DEBUG msg=\"d 1\""},
		{func() { l.Info("i") }, "level=DEBUG msg=i"},
		{func() { l.Warn("w") }, "level=WARN msg=w"},
		{func() { l.Errorf("e %s", "x") }, "level=WARN msg=\"e x\""},
	}
	for _, c := range cases {
		buf.Reset()
		c.write()
		if !strings.Contains(buf.String(), c.want) {
			t.Errorf("got %q, want it to contain %q", buf.String(), c.want)
		}
		if !strings.Contains(buf.String(), "pion=ice") {
			t.Errorf("got %q, want the scope pion=ice", buf.String())
		}
	}
}
