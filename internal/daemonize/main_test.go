package daemonize

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// roleEnv makes the test binary act as a daemon for the tests that need a
// second process: "hold:PATH" holds a pid file until stdin closes,
// "ready" and "fail" answer Background.
const roleEnv = "DAEMONIZE_TEST_ROLE"

func TestMain(m *testing.M) {
	if role, ok := os.LookupEnv(roleEnv); ok {
		os.Exit(actAs(role))
	}
	goleak.VerifyTestMain(m)
}

func actAs(role string) int {
	child := IsChild()
	detached, rep := Detached()
	switch {
	case role == "ready":
		if !child || !detached || IsChild() {
			rep.Failed(errors.New("not detached, or the marker is still set"))
			return 3
		}
		rep.Ready()
		// Live on a little, as a daemon would, then go.
		time.Sleep(100 * time.Millisecond)
		return 0
	case role == "fail":
		rep.Failed(errors.New("pid file is held\nsecond line"))
		return 7
	case role == "silent":
		return 5
	case len(role) > 5 && role[:5] == "hold:":
		p, err := CreatePIDFile(role[5:])
		if err != nil {
			fmt.Println(err)
			return 1
		}
		fmt.Println("held")
		buf := make([]byte, 1)
		os.Stdin.Read(buf)
		p.Remove()
		return 0
	}
	return 2
}
