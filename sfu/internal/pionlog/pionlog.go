// Package pionlog adapts log/slog to the logging interface of the Pion
// libraries (github.com/pion/logging), so WebRTC, ICE, DTLS and TURN messages
// go to the logger the SFU was given.
//
// Pion reports many client-caused conditions (a malformed STUN packet, a
// failed handshake) at its Error level and routine state changes at Info, so
// the adapter lowers them one step: Pion Error and Warn become slog Warn, Pion
// Info becomes slog Debug, and Pion Trace becomes a level below Debug.
package pionlog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// LevelTrace is the slog level used for Pion trace messages.
const LevelTrace = slog.LevelDebug - 4

// Factory creates Pion loggers that write to one slog.Logger. It is safe for
// concurrent use.
type Factory struct {
	Logger *slog.Logger
}

// NewLogger returns a logger that tags each record with the Pion scope.
func (f Factory) NewLogger(scope string) logging.LeveledLogger {
	return logger{l: f.Logger.With("pion", scope)}
}

type logger struct {
	l *slog.Logger
}

func (g logger) log(level slog.Level, msg string) {
	g.l.Log(context.Background(), level, msg)
}

func (g logger) logf(level slog.Level, format string, args ...any) {
	if !g.l.Enabled(context.Background(), level) {
		return
	}
	g.l.Log(context.Background(), level, fmt.Sprintf(format, args...))
}

func (g logger) Trace(msg string)                  { g.log(LevelTrace, msg) }
func (g logger) Tracef(format string, args ...any) { g.logf(LevelTrace, format, args...) }
func (g logger) Debug(msg string)                  { g.log(slog.LevelDebug, msg) }
func (g logger) Debugf(format string, args ...any) { g.logf(slog.LevelDebug, format, args...) }
func (g logger) Info(msg string)                   { g.log(slog.LevelDebug, msg) }
func (g logger) Infof(format string, args ...any)  { g.logf(slog.LevelDebug, format, args...) }
func (g logger) Warn(msg string)                   { g.log(slog.LevelWarn, msg) }
func (g logger) Warnf(format string, args ...any)  { g.logf(slog.LevelWarn, format, args...) }
func (g logger) Error(msg string)                  { g.log(slog.LevelWarn, msg) }
func (g logger) Errorf(format string, args ...any) { g.logf(slog.LevelWarn, format, args...) }
