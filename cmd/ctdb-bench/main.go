package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/alecthomas/kong"

	"github.com/rctdb/rctdb/bench"
)

type cli struct {
	Sockets  []string      `help:"Client sockets of the nodes, in ring order." required:"" sep:","`
	Duration time.Duration `help:"How long each run lasts." default:"10s"`

	MessageRing struct{} `cmd:"" help:"Pass a message around the nodes each way (ctdb message_ring)."`
	FetchRing   struct {
		DB string `help:"Volatile database to use." default:"fetch_ring.tdb"`
	} `cmd:"" help:"Migrate a record around the nodes, incrementing it (ctdb fetch_ring)."`
}

func main() {
	var c cli
	k := kong.Parse(&c, kong.Description("Measure CTDB-protocol daemons through their sockets."))
	ctx, cancel := context.WithTimeout(context.Background(), c.Duration+time.Minute)
	defer cancel()
	var res bench.Result
	var err error
	switch k.Command() {
	case "message-ring":
		res, err = bench.MessageRing(ctx, c.Sockets, c.Duration)
	case "fetch-ring":
		res, err = bench.FetchRing(ctx, c.Sockets, c.FetchRing.DB, c.Duration)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", k.Command(), err)
		os.Exit(1)
	}
	fmt.Printf("%s over %d nodes: %s\n", k.Command(), len(c.Sockets), res)
}
