package signaling

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/bedside-health/bedside/policy"
)

// TestConcurrentChaos runs joins, admissions, removals, media messages,
// leaves, dropped connections, resumes and revocations concurrently in one
// room, then checks that the hub ends clean: no deadlock, no leaked
// goroutine, no participant left behind.
func TestConcurrentChaos(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) {
		c.ResumeGrace = 30 * time.Millisecond
		c.MessageRate = rate.Inf
		c.QueueSize = 512
		c.ErrorLimit = 1 << 20
	})
	const patients = 8
	var names []string
	for i := range patients {
		names = append(names, fmt.Sprintf("p%d", i))
	}
	e.rooms.add("chaos", []string{"h1"}, names...)

	host := e.connect("h1", policy.RoleClinician)
	host.join("chaos")
	var stop atomic.Bool
	var wg sync.WaitGroup

	// The host admits everyone waiting and sometimes removes someone.
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(1, 2))
		for {
			host.ws.SetReadDeadline(time.Now().Add(testDeadline))
			_, data, err := host.ws.ReadMessage()
			if err != nil {
				t.Errorf("host read: %v", err)
				return
			}
			if stop.Load() {
				return
			}
			hostReact(host.ws, data, rng)
		}
	}()

	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			chaosPatient(t, e, name, uint64(i), &stop)
		}()
	}

	// Revocations land at random.
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(3, 4))
		for !stop.Load() {
			time.Sleep(40 * time.Millisecond)
			e.hub.RevokeSession(names[rng.IntN(patients)] + "-session")
		}
	}()

	time.Sleep(time.Second)
	stop.Store(true)
	e.hub.NotifyMessage([]string{"h1"}, "wake", "up") // ends the host's last read
	wg.Wait()

	waitUntil(t, "only the host remains", func() bool {
		e.hub.mu.Lock()
		r := e.hub.rooms["chaos"]
		e.hub.mu.Unlock()
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.participants) == 1 && e.connCount() == 1
	})
	host.send(LeaveMessage{Header: Header{Type: TypeLeave}})
	waitUntil(t, "the room is gone", func() bool { return e.roomCount() == 0 })

	e.media.mu.Lock()
	for id, p := range e.media.peers {
		if _, closed := p.snapshot(); !closed {
			t.Errorf("media peer of %s is open after everyone left, want closed", id)
		}
	}
	e.media.mu.Unlock()

	// The run must have gone through every path it is meant to mix.
	leaves := map[string]int{}
	for _, ev := range e.audit.ofType("consultation.leave") {
		leaves[ev.Detail["reason"]]++
	}
	resumed := 0
	for _, ev := range e.audit.ofType("consultation.join") {
		if ev.Detail["resumed"] == "true" {
			resumed++
		}
	}
	counts := map[string]int{
		"admit":          len(e.audit.ofType("consultation.admit")),
		"remove":         len(e.audit.ofType("consultation.remove")),
		"resume":         resumed,
		"leave left":     leaves[LeftReasonLeft],
		"leave timeout":  leaves[LeftReasonTimeout],
		"leave revoked":  leaves[LeftReasonRevoked],
		"answers":        int(counterValue(t, e.hub.metrics.sent[TypeAnswer])),
		"revoked closes": int(counterValue(t, e.hub.metrics.sent[TypeSessionRevoked])),
	}
	for what, n := range counts {
		if n == 0 {
			t.Errorf("got no %s during the run, want some (counts %v)", what, counts)
		}
	}
}

// hostReact admits every waiting participant of a waiting list and
// removes a newly admitted participant one time in four.
func hostReact(ws *websocket.Conn, data []byte, rng *rand.Rand) {
	var m struct {
		Type        string        `json:"type"`
		Waiting     []RosterEntry `json:"waiting"`
		Participant RosterEntry   `json:"participant"`
	}
	if json.Unmarshal(data, &m) != nil {
		return
	}
	switch m.Type {
	case TypeWaitingList:
		for _, w := range m.Waiting {
			ws.WriteJSON(AdmitMessage{Header: Header{Type: TypeAdmit}, Participant: w.Participant})
		}
	case TypeParticipantJoined:
		if rng.IntN(4) == 0 {
			ws.WriteJSON(RemoveMessage{Header: Header{Type: TypeRemove}, Participant: m.Participant.Participant})
		}
	}
}

// chaosPatient connects, joins or resumes, negotiates and leaves in random
// ways until stop is set.
func chaosPatient(t *testing.T, e *env, name string, seed uint64, stop *atomic.Bool) {
	rng := rand.New(rand.NewPCG(seed, 99))
	token := e.auth.add(name, policy.RolePatient, name+"-session")
	var resume atomic.Value
	resume.Store("")
	for !stop.Load() {
		var nc net.Conn
		d := rawDialer(&nc)
		ws, _, err := d.Dial(e.url(), nil)
		if err != nil {
			t.Errorf("%s: dial: %v", name, err)
			return
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				_, data, err := ws.ReadMessage()
				if err != nil {
					return
				}
				var j JoinedMessage
				if json.Unmarshal(data, &j) == nil && j.Type == TypeJoined {
					resume.Store(j.Resume)
				}
			}
		}()

		ws.WriteJSON(AuthMessage{Header: Header{Type: TypeAuth}, Token: token})
		ws.WriteJSON(JoinMessage{Header: Header{Type: TypeJoin}, Consultation: "chaos", Resume: resume.Load().(string)})
		for range rng.IntN(5) {
			time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond)
			ws.WriteJSON(OfferMessage{Header: Header{Type: TypeOffer}, SDP: "v=0 " + name})
			ws.WriteJSON(PresenceMessage{Header: Header{Type: TypePresence}, Status: PresenceAway})
		}
		switch rng.IntN(3) {
		case 0:
			ws.WriteJSON(LeaveMessage{Header: Header{Type: TypeLeave}})
			ws.Close()
		case 1:
			nc.Close() // vanish; the next round may resume
		default:
			ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(CloseNormal, ""))
			ws.Close()
		}
		<-done
	}
}
