package main

import (
	"fmt"

	"github.com/rctdb/rctdb/protocol"
)

// GetcapabilitiesCmd is "ctdb getcapabilities": the LEADER (recovery
// master) and LMASTER capabilities of the addressed node.
type GetcapabilitiesCmd struct{ Args }

// formatCapabilities renders control_getcapabilities, plain or machine
// readable with separator sep.
func formatCapabilities(caps uint32, machine bool, sep string) string {
	leader := caps&protocol.CapRecMaster != 0
	lmaster := caps&protocol.CapLMaster != 0
	if machine {
		return fmt.Sprintf("%[1]sLEADER%[1]sLMASTER%[1]s\n%[1]s%[2]d%[1]s%[3]d%[1]s\n",
			sep, b2i(leader), b2i(lmaster))
	}
	return fmt.Sprintf("LEADER: %s\nLMASTER: %s\n", yesNo(leader), yesNo(lmaster))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

// Run sends GET_CAPABILITIES.
func (c *GetcapabilitiesCmd) Run(t *tool) error {
	if len(c.Args.Args) != 0 {
		return t.usage()
	}
	ctx, cancel := t.tctx()
	caps, err := t.c.GetCapabilities(ctx, t.cmdPNN)
	cancel()
	if err != nil {
		return t.ctrlErr(protocol.ControlGetCapabilities, t.cmdPNN, err)
	}
	if t.opts.json {
		return t.printJSON(struct {
			PNN          uint32 `json:"pnn"`
			Capabilities uint32 `json:"capabilities"`
			Leader       bool   `json:"leader"`
			LMaster      bool   `json:"lmaster"`
		}{t.cmdPNN, caps, caps&protocol.CapRecMaster != 0, caps&protocol.CapLMaster != 0})
	}
	t.print(formatCapabilities(caps, t.opts.machine, t.opts.sep))
	return nil
}
