package main

import (
	"flag"
	"strings"

	"github.com/bedside-health/bedside/server"
)

// registerServiceFlags adds the flags of the domain services to the serve
// command.
func registerServiceFlags(fs *flag.FlagSet, cfg *server.Config) {
	fs.Var((*listFlag)(&cfg.AllowedOrigins), "allowed-origins",
		"comma-separated `origins` (such as https://clinic.example) besides the server's own that may open the WebSocket")

	a := &cfg.Auth
	fs.BoolVar(&a.SelfSignup, "self-signup", a.SelfSignup, "let patients create their own accounts (staff always need an invitation)")
	fs.DurationVar(&a.SessionIdle, "session-idle", a.SessionIdle, "sign a session out after this `duration` without a request")
	fs.DurationVar(&a.SessionMax, "session-max", a.SessionMax, "maximum `duration` of a session, however active")
	fs.DurationVar(&a.InvitationTTL, "invitation-ttl", a.InvitationTTL, "`duration` an invitation or enrollment token stays valid")
	fs.IntVar(&a.LockoutAfter, "lockout-after", a.LockoutAfter, "consecutive failed sign-ins (`count`) that lock an account")
	fs.DurationVar(&a.LockoutDuration, "lockout-duration", a.LockoutDuration, "`duration` of an account lockout before it unlocks by itself")

	sg := &cfg.Signaling
	fs.DurationVar(&sg.SessionCheck, "session-check", sg.SessionCheck,
		"`duration` between re-checks of each WebSocket's session, which also keep it from idling out; "+
			"an expired or revoked session closes its WebSockets within it (0 means 1m)")
	fs.IntVar(&sg.MaxUserConnections, "max-user-websockets", sg.MaxUserConnections,
		"WebSocket connections (`count`) one user may hold at once (0 means 20)")

	c := &cfg.Clinic
	fs.DurationVar(&c.JoinBefore, "join-before", c.JoinBefore, "`duration` before a consultation's start when participants may join")
	fs.DurationVar(&c.JoinGrace, "join-grace", c.JoinGrace, "`duration` after a consultation's end when participants may still join")

	au := &cfg.Audit
	fs.StringVar(&au.ClinicHours, "clinic-hours", au.ClinicHours, "opening `hours` such as 07:00-19:00; access outside them raises an alert (empty: off)")
	fs.StringVar(&au.ClinicTimeZone, "clinic-time-zone", au.ClinicTimeZone, "IANA time `zone` of --clinic-hours, such as Europe/Berlin (default UTC)")
	fs.StringVar(&au.ClinicDays, "clinic-days", au.ClinicDays, "opening `days`, such as Mon-Fri or Mon,Wed,Fri (default Mon-Fri)")
	fs.IntVar(&au.FailedLoginThreshold, "alert-failed-logins", au.FailedLoginThreshold, "failed sign-ins (`count`) within 5 minutes that raise an alert")
	fs.Int64Var(&au.DownloadBytesPerHour, "alert-download-bytes", au.DownloadBytesPerHour, "attachment `bytes` one account may download per hour before an alert")
	fs.StringVar(&au.WebhookURL, "alert-webhook-url", au.WebhookURL, "`URL` that receives every alert as a signed JSON POST (https, or http to loopback)")
	fs.StringVar(&au.WebhookSecret, "alert-webhook-secret", au.WebhookSecret, "HMAC-SHA256 `secret` for the X-Bedside-Signature header, at least 16 bytes")

	msg := &cfg.Messaging
	fs.IntVar(&msg.RetentionDays, "retention-days", msg.RetentionDays, "delete messages and attachments older than this many `days` (0 keeps them)")
	fs.Int64Var(&msg.MaxAttachmentBytes, "max-attachment-bytes", msg.MaxAttachmentBytes, "largest encrypted attachment in `bytes` (0 means 25 MiB)")
	fs.Int64Var(&msg.AttachmentQuotaBytes, "attachment-quota-bytes", msg.AttachmentQuotaBytes, "attachment `bytes` one user may store (0 means 500 MiB)")

	m := &cfg.Media
	fs.IntVar(&m.UDPPort, "udp-port", m.UDPPort, "UDP `port` that carries all media (ICE UDP mux); 0 picks a free port")
	fs.StringVar(&m.PublicIP, "public-ip", m.PublicIP, "public `IP` address announced for media when the host sits behind 1:1 NAT")
	fs.Var((*listFlag)(&m.Interfaces), "media-interfaces", "comma-separated network `interfaces` used for media (default: all)")
	fs.BoolVar(&m.AllowLoopback, "media-loopback", m.AllowLoopback, "offer loopback addresses for media, for tests on one machine")
	fs.StringVar(&m.TURN.UDPAddr, "turn-udp", m.TURN.UDPAddr, "`host:port` of the embedded TURN server over UDP (empty: off)")
	fs.StringVar(&m.TURN.TCPAddr, "turn-tcp", m.TURN.TCPAddr, "`host:port` of the embedded TURN server over TCP (empty: off)")
	fs.StringVar(&m.TURN.Host, "turn-host", m.TURN.Host, "host `name` or IP put in TURN URLs given to clients (default: --public-ip)")
}

// listFlag is a comma-separated list of strings.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = nil
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}
