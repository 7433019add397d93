// Package signaling is the WebSocket hub. It authenticates connections and
// runs one room per consultation, with a waiting room. It relays SDP offers,
// answers and ICE candidates between each participant and the SFU, and it
// pushes message notifications, admin alerts and session revocations to
// online devices.
//
// New returns a Hub, which serves the /ws endpoint as an http.Handler. The
// hub depends on three ports that the server wiring provides:
// Authenticator (session tokens), Rooms (who may join a consultation, and
// when) and Media (the SFU). It never reads or relays message content:
// NotifyMessage carries ids only.
//
// Protocol: the client connects with the subprotocol "bedside.v1", sends
// its session token in an auth message first, then joins a consultation. A
// host (clinician) is admitted at once; anyone else waits until a host
// admits them. Only admitted participants exchange SDP and candidates with
// the SFU. A participant whose connection drops keeps its place and its
// SFU peer for Config.ResumeGrace and resumes with the token from its
// joined message; its joined message then says whether the media session
// was kept (the client restarts ICE) or is new. A consultation stays in
// progress while its room is empty, until a host sends end or the join
// window closes; the hub reports only the status transitions that
// StatusTransitions lists.
// docs/signaling.md specifies every message, state machine, error code,
// close code and rejection rule.
//
// Every Config.SessionCheck, each connection authenticates its session
// token again: a session that expired or was revoked closes its
// connections, and the check refreshes the session's idle timer, so a long
// call without HTTP requests keeps its session.
//
// Each connection has one reader goroutine, a bounded outbound queue and,
// while the queue has messages, one writer goroutine; an idle connection
// holds no writer stack. Broadcasting never waits on a connection: one
// whose queue is full is closed as a slow consumer.
//
// Caveats: the audit address is the TCP peer address; forwarding headers of
// a reverse proxy are not trusted. Rooms live in this process only, so
// every participant of a consultation must reach the same hub.
package signaling
