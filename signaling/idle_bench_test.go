package signaling

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bedside-health/bedside/policy"
)

// Environment of the client process that BenchmarkIdleConnections starts.
const (
	envLoadURL   = "BEDSIDE_SIGNALING_LOAD_URL"
	envLoadConns = "BEDSIDE_SIGNALING_LOAD_CONNS"
	envLoadPing  = "BEDSIDE_SIGNALING_LOAD_PING" // "1": each client pings once after auth
	// envIdleConns overrides the connection count of
	// BenchmarkIdleConnections (default 10000).
	envIdleConns = "BEDSIDE_SIGNALING_IDLE_CONNS"
)

// tokenAuth accepts any token "load-<n>" as patient user "user-<n>".
type tokenAuth struct{}

func (tokenAuth) Authenticate(_ context.Context, token string) (policy.Actor, error) {
	n, ok := strings.CutPrefix(token, "load-")
	if !ok {
		return policy.Actor{}, fmt.Errorf("unknown token: %w", ErrSessionInvalid)
	}
	return policy.Actor{UserID: "user-" + n, Role: policy.RolePatient, SessionID: "session-" + n}, nil
}

// BenchmarkIdleConnections measures the server's heap and stack per idle
// authenticated connection: right after authentication, and after one
// ping request and pong reply, which grows the reader's stack. The clients
// run in a child process, so only server memory is counted. The server process needs one file descriptor
// per connection: raise ulimit -n above the connection count.
func BenchmarkIdleConnections(b *testing.B) {
	n := 10000
	if s := os.Getenv(envIdleConns); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatalf("%s=%q: %v", envIdleConns, s, err)
		}
	}
	for _, mode := range []struct {
		name string
		ping string
	}{{"after-auth", "0"}, {"after-ping", "1"}} {
		b.Run(mode.name, func(b *testing.B) {
			for range b.N {
				heap, stack, goroutines := measureIdle(b, n, mode.ping)
				b.ReportMetric(heap+stack, "B/conn")
				b.ReportMetric(heap, "heap-B/conn")
				b.ReportMetric(stack, "stack-B/conn")
				b.ReportMetric(goroutines, "goroutines/conn")
			}
		})
	}
}

func measureIdle(b *testing.B, n int, ping string) (heap, stack, goroutines float64) {
	if os.Getenv("BEDSIDE_SIGNALING_HEAP_PROFILE") != "" {
		runtime.MemProfileRate = 1
	}
	e := newEnv(b, func(c *Config) {
		c.Authenticator = tokenAuth{}
		c.Registerer = nil
		c.Audit = nil
		c.PingInterval = time.Hour
		c.PongTimeout = 2 * time.Hour
	})

	before := memInUse()
	goroutinesBefore := runtime.NumGoroutine()

	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientProcess$")
	cmd.Env = append(os.Environ(), envLoadURL+"="+e.url(), envLoadConns+"="+strconv.Itoa(n), envLoadPing+"="+ping)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stdin.Close() // the child closes its connections and exits
		if err := cmd.Wait(); err != nil {
			b.Errorf("client process: %v", err)
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		b.Fatalf("client process: got %q, %v, want ready", line, err)
	}
	waitUntil(b, "every connection is registered", func() bool { return e.connCount() == n })

	after := memInUse()
	if path := os.Getenv("BEDSIDE_SIGNALING_HEAP_PROFILE"); path != "" {
		f, _ := os.Create(path)
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	perConn := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	goroutines = float64(runtime.NumGoroutine()-goroutinesBefore) / float64(n)
	return perConn(after.HeapInuse, before.HeapInuse), perConn(after.StackInuse, before.StackInuse), goroutines
}

// memInUse returns memory statistics after full collections. Each
// collection halves at most once the stack of a goroutine that uses less
// than a quarter of it, as a long-lived idle connection's stacks would be.
func memInUse() runtime.MemStats {
	var m runtime.MemStats
	for range 5 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return m
}

// TestIdleClientProcess is the client side of BenchmarkIdleConnections. It
// does nothing unless started by the benchmark: then it opens and
// authenticates the connections, prints "ready" and holds them until its
// standard input closes.
func TestIdleClientProcess(t *testing.T) {
	url := os.Getenv(envLoadURL)
	if url == "" {
		t.Skip("runs only as the client process of BenchmarkIdleConnections")
	}
	n, err := strconv.Atoi(os.Getenv(envLoadConns))
	if err != nil {
		t.Fatal(err)
	}

	// 32 dialers open the connections; the first error is kept.
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	next := make(chan int)
	d := websocket.Dialer{Subprotocols: []string{Subprotocol}, HandshakeTimeout: time.Minute}
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ws, err := dialAuthenticated(d, url, i, os.Getenv(envLoadPing) == "1")
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				conns[i] = ws
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()

	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n') // until EOF

	for _, ws := range conns {
		ws.Close()
	}
}

func dialAuthenticated(d websocket.Dialer, url string, i int, ping bool) (*websocket.Conn, error) {
	ws, _, err := d.Dial(url, http.Header{})
	if err != nil {
		return nil, fmt.Errorf("dial %d: %w", i, err)
	}
	if err := ws.WriteJSON(AuthMessage{Header: Header{Type: TypeAuth}, Token: "load-" + strconv.Itoa(i)}); err != nil {
		return nil, fmt.Errorf("auth %d: %w", i, err)
	}
	var ok AuthOKMessage
	if err := ws.ReadJSON(&ok); err != nil || ok.Type != TypeAuthOK {
		return nil, fmt.Errorf("auth %d: got %+v, %v", i, ok, err)
	}
	if !ping {
		return ws, nil
	}
	if err := ws.WriteJSON(PingMessage{Header: Header{Type: TypePing}}); err != nil {
		return nil, fmt.Errorf("ping %d: %w", i, err)
	}
	var pong PongMessage
	if err := ws.ReadJSON(&pong); err != nil || pong.Type != TypePong {
		return nil, fmt.Errorf("ping %d: got %+v, %v", i, pong, err)
	}
	return ws, nil
}
