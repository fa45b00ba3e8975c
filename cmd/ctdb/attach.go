package main

import "github.com/rctdb/rctdb/protocol"

// AttachCmd is "ctdb attach DBNAME [persistent|replicated]": attach a
// database on our node (the real tool also takes "readonly" and "sticky").
type AttachCmd struct{ Args }

// attachFlags is control_attach's reading of its second argument.
func attachFlags(arg string) (uint8, bool) {
	switch arg {
	case "persistent":
		return protocol.DBFlagPersistent, true
	case "readonly":
		return protocol.DBFlagReadonly, true
	case "sticky":
		return protocol.DBFlagSticky, true
	case "replicated":
		return protocol.DBFlagReplicated, true
	}
	return 0, false
}

// Run follows control_attach: ctdb_attach, whose return value is the exit
// status.
func (c *AttachCmd) Run(t *tool) error {
	args := c.Args.Args
	if len(args) < 1 || len(args) > 2 {
		return t.usage()
	}
	var flags uint8
	if len(args) == 2 {
		var ok bool
		if flags, ok = attachFlags(args[1]); !ok {
			return t.usage()
		}
	}
	db, err := t.attach(args[0], flags)
	if err != nil {
		return err
	}
	defer db.Close()
	if t.opts.json {
		return t.printJSON(struct {
			jsonDBCommand
			Path string `json:"path"`
		}{t.dbCommandJSON(t.pnn, db.ID, db.Name, flags), db.Path})
	}
	return nil
}
