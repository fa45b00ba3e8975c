package events

import (
	"context"
	"testing"
	"time"
)

// BenchmarkRunOneScript is the cost of an event with one trivial script:
// mostly fork and exec of /bin/sh.
func BenchmarkRunOneScript(b *testing.B) {
	e := newTestEnv(b, nil)
	e.script("01.ok", "exit 0", 0o755)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := e.r.Run(context.Background(), "legacy", "monitor", nil, time.Minute, 0)
		if err != nil || res.Code != 0 {
			b.Fatalf("%+v %v", res, err)
		}
	}
}

// BenchmarkStatusOverSocket is a STATUS request and its reply (four
// scripts' results) through the Server.
func BenchmarkStatusOverSocket(b *testing.B) {
	e := newTestEnv(b, nil)
	for _, n := range []string{"01.a", "02.b", "03.c", "04.d"} {
		e.script(n, "echo some output", 0o755)
	}
	e.run("monitor", time.Minute)
	path, _ := e.serve()
	c, err := Dial(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		code, st, err := c.Status(context.Background(), "legacy", "monitor")
		if err != nil || code != 0 || len(st.Scripts) != 4 {
			b.Fatalf("%d %v %v", code, st, err)
		}
	}
}
