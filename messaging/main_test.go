package messaging

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/clinic"
	"github.com/bedside-health/bedside/store"
)

// serverEnv makes the test binary run testServerMain instead of the
// tests: the crash test starts it as a child process and kills it.
const serverEnv = "BEDSIDE_MESSAGING_TEST_SERVER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(serverEnv); dir != "" {
		if err := testServerMain(dir); err != nil {
			fmt.Fprintln(os.Stderr, "test server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// testServerMain serves the messaging service over loopback HTTP from the
// data directory dir, as the bedside binary does, and prints
// "LISTEN host:port" once it accepts connections. It runs until killed.
func testServerMain(dir string) error {
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		return err
	}
	key, err := store.LoadOrCreateKey(filepath.Join(dir, store.KeyFileName))
	if err != nil {
		return err
	}
	cl, err := clinic.New(clinic.Config{}, clinic.Deps{DB: db, Sealer: store.NewSealer(key)})
	if err != nil {
		return err
	}
	svc, err := New(Config{}, Deps{DB: db, DataDir: dir, Directory: ClinicDirectory{Clinic: cl, DB: db},
		Names: storeNames{db}})
	if err != nil {
		return err
	}
	rt := api.NewRouter(nil)
	svc.Register(rt)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	return http.Serve(ln, testAuth(testActors(), rt))
}
