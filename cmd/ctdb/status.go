package main

import (
	"fmt"
	"strings"

	"github.com/rctdb/rctdb/protocol"
)

// StatusCmd is "ctdb status": the node map, the vnn map, the recovery mode
// and the leader.
type StatusCmd struct{ Args }

// statusView is what status shows.
type statusView struct {
	Nodemap   *protocol.NodeMap // after withUnknown
	MyPNN     uint32            // the addressed node
	Partially map[uint32]bool   // nodes found PARTIALLYONLINE
	VNNMap    *protocol.VNNMap
	RecMode   int32
	Leader    uint32 // protocol.UnknownPNN if none
}

// formatStatus renders print_status.
func formatStatus(v *statusView) string {
	var b strings.Builder
	b.WriteString(formatNodemap(v.Nodemap, v.MyPNN, v.Partially, true))
	if v.VNNMap.Generation == protocol.InvalidGeneration {
		b.WriteString("Generation:INVALID\n")
	} else {
		fmt.Fprintf(&b, "Generation:%d\n", v.VNNMap.Generation)
	}
	fmt.Fprintf(&b, "Size:%d\n", len(v.VNNMap.Map))
	for i, l := range v.VNNMap.Map {
		fmt.Fprintf(&b, "hash:%d lmaster:%d\n", i, int32(l))
	}
	fmt.Fprintf(&b, "Recovery mode:%s (%d)\n", recModeString(v.RecMode), v.RecMode)
	fmt.Fprintf(&b, "Leader:%s\n", pnnString(v.Leader))
	return b.String()
}

func recModeString(m int32) string {
	if uint32(m) == protocol.RecoveryNormal {
		return "NORMAL"
	}
	return "RECOVERY"
}

// jsonStatus is the JSON document of status (see json.go).
type jsonStatus struct {
	Nodes             []jsonNode    `json:"nodes"`
	Generation        *uint32       `json:"generation"`
	VNNMap            []jsonVNNHash `json:"vnnmap"`
	RecoveryMode      string        `json:"recovery_mode"`
	RecoveryModeValue int32         `json:"recovery_mode_value"`
	Leader            *uint32       `json:"leader"`
}

type jsonVNNHash struct {
	Hash    int    `json:"hash"`
	LMaster uint32 `json:"lmaster"`
}

func statusJSON(v *statusView) jsonStatus {
	j := jsonStatus{
		Nodes:             jsonNodes(v.Nodemap, v.MyPNN, v.Partially),
		VNNMap:            []jsonVNNHash{},
		RecoveryMode:      recModeString(v.RecMode),
		RecoveryModeValue: v.RecMode,
		Leader:            optPNN(v.Leader),
	}
	if g := v.VNNMap.Generation; g != protocol.InvalidGeneration {
		j.Generation = &g
	}
	for i, l := range v.VNNMap.Map {
		j.VNNMap = append(j.VNNMap, jsonVNNHash{Hash: i, LMaster: l})
	}
	return j
}

// Run fetches what control_status fetches, in its order: the node map (from
// our node), the runstate, then (unless machine readable) the vnn map, the
// recovery mode and the leader, then the interfaces of the healthy nodes.
func (c *StatusCmd) Run(t *tool) error {
	if len(c.Args.Args) != 0 {
		return t.usage()
	}
	full := !t.opts.machine || t.opts.json
	in, err := t.getNodemap(false)
	if err != nil {
		return err
	}
	nm, err := t.nodemapUnknown(in)
	if err != nil {
		return err
	}
	v := &statusView{Nodemap: nm, MyPNN: t.cmdPNN}
	if full {
		ctx, cancel := t.tctx()
		v.VNNMap, err = t.c.GetVNNMap(ctx, t.cmdPNN)
		cancel()
		if err != nil {
			return t.ctrlErr(protocol.ControlGetVNNMap, t.cmdPNN, err)
		}
		ctx, cancel = t.tctx()
		rm, err := t.c.GetRecMode(ctx, t.cmdPNN)
		cancel()
		if err != nil {
			return t.ctrlErr(protocol.ControlGetRecMode, t.cmdPNN, err)
		}
		v.RecMode = int32(rm)
		if v.Leader, err = t.waitLeader(); err != nil {
			return err
		}
	}
	if v.Partially, err = t.checkPartiallyOnline(nm); err != nil {
		return err
	}
	switch {
	case t.opts.json:
		return t.printJSON(statusJSON(v))
	case t.opts.machine:
		t.print(formatNodemapMachine(nm, t.cmdPNN, v.Partially, t.opts.sep))
	default:
		t.print(formatStatus(v))
	}
	return nil
}
