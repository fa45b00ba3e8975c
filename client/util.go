package client

import (
	"os"
	"sync/atomic"
)

var seq atomic.Uint64

func nextSeq() uint64 { return seq.Add(1) }

func pid() int { return os.Getpid() }
