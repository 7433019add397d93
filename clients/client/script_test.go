package client_test

import (
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/bedside-health/bedside/clients/client/internal/tamper"
)

// fixtures maps each script's $WORK to its running server.
var fixtures sync.Map

func scriptFixture(ts *testscript.TestScript) *fixture {
	f, ok := fixtures.Load(ts.Getenv("WORK"))
	if !ok {
		ts.Fatalf("no server for this script")
	}
	return f.(*fixture)
}

// TestScripts runs the command-line scenarios in testdata/*.txtar, each
// against its own server. Beyond the standard commands, scripts have:
//
//	totp ACCOUNT VAR              set $VAR to an unused TOTP code
//	recovery ACCOUNT VAR          set $VAR to an unused recovery code
//	tamper ATTACK TARGET | off    arm an attack of the proxy, or disarm all
//	exitcode N PROGRAM ARGS...    run PROGRAM and check its exit code
//	grabenv VAR REGEXP            set $VAR to the first group of REGEXP in the last stdout
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:   "testdata",
		Setup: setupScript,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"totp":     cmdTOTP,
			"recovery": cmdRecovery,
			"tamper":   cmdTamper,
			"exitcode": cmdExitCode,
			"grabenv":  cmdGrabEnv,
		},
	})
}

func setupScript(env *testscript.Env) error {
	f, stop, err := startFixture(filepath.Join(env.WorkDir, ".server"))
	if err != nil {
		return err
	}
	fixtures.Store(env.WorkDir, f)
	env.Defer(func() {
		fixtures.Delete(env.WorkDir)
		if err := stop(); err != nil {
			env.T().Fatal(err)
		}
	})
	for k, v := range map[string]string{
		"SERVER":       f.URL,
		"CONSULT":      f.Consultation,
		"CONSULT_CONV": "consultation:" + f.Consultation,
		"CARE":         f.careConversation(),
		"CLIN_ID":      f.Clinician.ID,
		"CLIN_EMAIL":   f.Clinician.Email,
		"CLIN_PASS":    f.Clinician.Password,
		"PAT_ID":       f.Patient.ID,
		"PAT_EMAIL":    f.Patient.Email,
		"PAT_PASS":     f.Patient.Password,
		"NURSE_ID":     f.Nurse.ID,
		"NURSE_EMAIL":  f.Nurse.Email,
		"NURSE_PASS":   f.Nurse.Password,
	} {
		env.Setenv(k, v)
	}
	return nil
}

func scriptAccount(ts *testscript.TestScript, name string) *account {
	f := scriptFixture(ts)
	switch name {
	case "clinician":
		return f.Clinician
	case "nurse":
		return f.Nurse
	case "patient":
		return f.Patient
	}
	ts.Fatalf("unknown account %q: use clinician, nurse or patient", name)
	return nil
}

func cmdTOTP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: totp ACCOUNT VAR")
	}
	code, err := scriptAccount(ts, args[0]).totpCode()
	ts.Check(err)
	ts.Setenv(args[1], code)
}

func cmdRecovery(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: recovery ACCOUNT VAR")
	}
	ts.Setenv(args[1], scriptAccount(ts, args[0]).recoveryCode())
}

func cmdTamper(ts *testscript.TestScript, neg bool, args []string) {
	f := scriptFixture(ts)
	switch {
	case neg:
		ts.Fatalf("tamper does not support !")
	case len(args) == 1 && args[0] == "off":
		f.Proxy.Disarm()
	case len(args) == 2:
		f.Proxy.Arm(tamper.Attack(args[0]), args[1])
	default:
		ts.Fatalf("usage: tamper ATTACK TARGET | tamper off")
	}
}

func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROGRAM ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		got = exitErr.ExitCode()
	} else if err != nil {
		ts.Fatalf("run %s: %v", args[1], err)
	}
	if got != want {
		ts.Logf("stdout:\n%s\nstderr:\n%s", ts.ReadFile("stdout"), ts.ReadFile("stderr"))
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

func cmdGrabEnv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: grabenv VAR REGEXP")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	m := re.FindStringSubmatch(ts.ReadFile("stdout"))
	if len(m) < 2 {
		ts.Fatalf("no match of %q in stdout", args[1])
	}
	ts.Setenv(args[0], m[1])
}
