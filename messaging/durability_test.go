package messaging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bedside-health/bedside/e2ee"
	"github.com/bedside-health/bedside/store"
)

// crashFixture is the client side of the crash test: three registered
// devices in one consultation, and every message any sender attempted.
type crashFixture struct {
	dir     string
	devices []*testDevice // patient phone, patient laptop, clinician desk
	public  []e2ee.DevicePublic

	mu        sync.Mutex
	attempted map[e2ee.MessageID][]byte  // wire form of every message posted
	acked     map[e2ee.MessageID]ackView // acknowledgement of the stored ones
	pending   [][]byte                   // posted in the last cycle without a response
}

// TestCrashDurability kills a server child process with SIGKILL at random
// points while several senders post messages, and checks after every kill
// that each acknowledged message is stored whole, that nothing else is
// half-written, and that bbolt's consistency check passes. The next cycle
// first retries what the last one left unanswered.
func TestCrashDurability(t *testing.T) {
	cycles := 200
	if testing.Short() {
		cycles = 40
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("kill delays from seed %d", seed)
	f := newCrashFixture(t)

	start := time.Now()
	for cycle := range cycles {
		child, addr := startTestServer(t, f.dir)
		transport := &http.Transport{}
		client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
		f.retryPending(t, client, addr)

		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.sendUntilError(t, client, addr, f.devices[[]int{0, 2}[i%2]], stop)
			}()
		}
		time.Sleep(time.Duration(rng.IntN(30_000)) * time.Microsecond)
		if err := child.Process.Kill(); err != nil {
			t.Fatalf("cycle %d: kill: %v", cycle, err)
		}
		child.Wait()
		close(stop)
		wg.Wait()
		transport.CloseIdleConnections()
		f.verify(t, cycle)
		if t.Failed() {
			return
		}
	}
	t.Logf("%d kill points, %d messages acknowledged, %d posted, in %s",
		cycles, len(f.acked), len(f.attempted), time.Since(start).Round(time.Millisecond))
	if len(f.acked) < cycles {
		t.Errorf("acknowledged messages: got %d in %d cycles, want at least one a cycle on average",
			len(f.acked), cycles)
	}
}

func newCrashFixture(t testing.TB) *crashFixture {
	h := &harness{t: t, users: map[string]*testUser{}, clock: &testClock{t: time.Now()}}
	f := &crashFixture{dir: t.TempDir(), attempted: map[e2ee.MessageID][]byte{}, acked: map[e2ee.MessageID]ackView{}}
	db, err := store.Open(f.dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := seedClinic(db, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	// The devices go straight into the store: registration over HTTP is
	// tested elsewhere, and this test is about sends.
	for _, ref := range []e2ee.DeviceRef{
		{UserID: patientID, DeviceID: "phone"},
		{UserID: patientID, DeviceID: "laptop"},
		{UserID: clinicianID, DeviceID: "desk"},
	} {
		d, list := h.newDevice(ref.UserID, ref.DeviceID)
		d.user.devices, d.user.version = append(d.user.devices, d), list.Version
		err := db.Bolt().Update(func(tx *bolt.Tx) error {
			if err := store.PutDeviceTx(tx, &store.Device{UserID: ref.UserID, DeviceID: ref.DeviceID,
				Certificate: d.cert.Bytes(), HPKEKey: d.cert.Device.HPKEKey, SigningKey: d.cert.Device.SigningKey,
				CreatedAt: h.clock.Now()}); err != nil {
				return err
			}
			return putDeviceList(tx, list, h.clock.Now())
		})
		if err != nil {
			t.Fatal(err)
		}
		f.devices = append(f.devices, d)
		f.public = append(f.public, d.keys.Public())
	}
	return f
}

// startTestServer runs this test binary as testServerMain on dir and
// returns once it listens.
func startTestServer(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serverEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- line
		io.Copy(io.Discard, out)
	}()
	select {
	case line := <-lines:
		addr, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTEN ")
		if !ok {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("test server did not start: stdout %q, stderr %s", line, stderr.Bytes())
		}
		return cmd, addr
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("test server did not start within 30s: stderr %s", stderr.Bytes())
	}
	return nil, ""
}

// post sends one wire form as its sender and returns the status and
// acknowledgement, or the transport error of a killed server.
func (f *crashFixture) post(client *http.Client, addr string, sender *testDevice, wire []byte) (int, ackView, error) {
	req, err := http.NewRequest("POST", "http://"+addr+"/api/v1/conversations/"+consultConv+"/messages",
		bytes.NewReader(wire))
	if err != nil {
		return 0, ackView{}, err
	}
	req.Header.Set(testUserHeader, sender.user.id)
	req.Header.Set(DeviceHeader, sender.id())
	req.Header.Set("Content-Type", SealedMediaType)
	res, err := client.Do(req)
	if err != nil {
		return 0, ackView{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, ackView{}, err
	}
	var ack ackView
	if res.StatusCode == http.StatusCreated || res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &ack); err != nil {
			return 0, ackView{}, fmt.Errorf("decode acknowledgement %s: %w", body, err)
		}
	}
	return res.StatusCode, ack, nil
}

func (f *crashFixture) sendUntilError(t *testing.T, client *http.Client, addr string, sender *testDevice,
	stop <-chan struct{}) {
	var others []e2ee.DevicePublic
	for _, p := range f.public {
		if p.Ref() != sender.keys.Ref() {
			others = append(others, p)
		}
	}
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		payload, _ := (&e2ee.Payload{Text: fmt.Sprintf("message %d from %s", n, sender.id())}).MarshalBinary()
		m, err := e2ee.Seal(nil, sender.keys, e2ee.Message{ConversationID: consultConv,
			ContentType: e2ee.ContentMessage, Time: time.Now(), Payload: payload}, others)
		if err != nil {
			t.Error(err)
			return
		}
		wire := m.Marshal()
		f.mu.Lock()
		f.attempted[m.Header.MessageID] = wire
		f.mu.Unlock()
		status, ack, err := f.post(client, addr, sender, wire)
		if err != nil {
			f.mu.Lock()
			f.pending = append(f.pending, wire)
			f.mu.Unlock()
			return
		}
		if status != http.StatusCreated || ack.MessageID != m.Header.MessageID.String() {
			t.Errorf("send: got status %d ack %+v, want 201 for message %s", status, ack, m.Header.MessageID)
			return
		}
		f.mu.Lock()
		f.acked[m.Header.MessageID] = ack
		f.mu.Unlock()
	}
}

// retryPending posts again, concurrently, every message that got no
// response before the kill. A message stored before the kill returns its
// first acknowledgement with status 200; one that was lost is stored now.
func (f *crashFixture) retryPending(t *testing.T, client *http.Client, addr string) {
	pending := f.pending
	f.pending = nil
	var wg sync.WaitGroup
	for _, wire := range pending {
		m, err := e2ee.ParseSealed(wire)
		if err != nil {
			t.Fatal(err)
		}
		sender := f.devices[0]
		if m.Header.SenderDeviceID == "desk" {
			sender = f.devices[2]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, ack, err := f.post(client, addr, sender, wire)
			if err != nil || (status != http.StatusOK && status != http.StatusCreated) {
				t.Errorf("retry of %s: got status %d, %v, want 200 or 201", m.Header.MessageID, status, err)
				return
			}
			f.mu.Lock()
			f.acked[m.Header.MessageID] = ack
			f.mu.Unlock()
		}()
	}
	wg.Wait()
}

// verify opens the killed server's database and checks it against what
// the senders saw.
func (f *crashFixture) verify(t *testing.T, cycle int) {
	t.Helper()
	db, err := store.Open(f.dir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("cycle %d: open after kill: %v", cycle, err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatalf("cycle %d: %v", cycle, err)
	}

	var last uint64
	if c, err := db.Conversation(consultConv); err == nil {
		last = c.LastSeq
	}
	stored := map[e2ee.MessageID]uint64{}
	for _, d := range f.devices {
		seqs := f.checkDevice(t, db, cycle, d, stored)
		for i, seq := range seqs {
			if seq != uint64(i+1) {
				t.Fatalf("cycle %d: %s sees seqs %v, want 1 to %d without gaps", cycle, d.id(), seqs, last)
			}
		}
		if uint64(len(seqs)) != last {
			t.Fatalf("cycle %d: %s sees %d messages, the conversation's last seq is %d", cycle, d.id(), len(seqs), last)
		}
	}
	for id, ack := range f.acked {
		if seq, ok := stored[id]; !ok || seq != ack.Seq {
			t.Fatalf("cycle %d: acknowledged message %s (seq %d) is stored at seq %d, present %v",
				cycle, id, ack.Seq, seq, ok)
		}
	}
}

// checkDevice reads every message as device d and checks that each was
// posted by a sender, is whole, and carries d's envelope or was sent by d.
// For the messages d sent, it rebuilds the wire form from the store and
// compares it byte for byte with what was posted.
func (f *crashFixture) checkDevice(t *testing.T, db *store.DB, cycle int, d *testDevice,
	stored map[e2ee.MessageID]uint64) []uint64 {
	t.Helper()
	var seqs []uint64
	for after := uint64(0); ; {
		page, err := db.MessagesForDevice(store.DeviceQuery{ConversationID: consultConv, UserID: d.user.id,
			DeviceID: d.id(), After: after, Limit: 1000, MaxBytes: 1 << 30})
		if err != nil {
			t.Fatalf("cycle %d: %v", cycle, err)
		}
		for _, m := range page.Messages {
			id := e2ee.MessageID(m.Message.ID)
			wire, ok := f.attempted[id]
			if !ok {
				t.Fatalf("cycle %d: stored message %s was never posted", cycle, id)
			}
			stored[id] = m.Message.Seq
			seqs = append(seqs, m.Message.Seq)
			got, err := deviceWireForm(m)
			if err != nil {
				t.Fatalf("cycle %d: message %s: %v", cycle, id, err)
			}
			own := m.Message.SenderDeviceID == d.id()
			if own && !bytes.Equal(got, wire) {
				t.Fatalf("cycle %d: message %s rebuilt from the store differs from the posted bytes", cycle, id)
			}
			if !own && len(m.Envelopes) != 1 {
				t.Fatalf("cycle %d: message %s has %d envelopes for %s, want 1", cycle, id, len(m.Envelopes), d.id())
			}
		}
		if !page.More {
			return seqs
		}
		after = page.Next
	}
}
