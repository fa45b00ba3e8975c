package main

// IpreallocateCmd is "ctdb ipreallocate": ask the leader for a takeover
// run and wait until it has run it.
type IpreallocateCmd struct{ Args }

// Run follows control_ipreallocate.
func (c *IpreallocateCmd) Run(t *tool) error {
	return t.ipreallocateCommand(c.Args.Args)
}

// SyncCmd is "ctdb sync", the deprecated name of ipreallocate.
type SyncCmd struct{ Args }

// Run is ipreallocate's (its usage message too).
func (c *SyncCmd) Run(t *tool) error {
	return t.ipreallocateCommand(c.Args.Args)
}

func (t *tool) ipreallocateCommand(args []string) error {
	if len(args) != 0 {
		printUsage(t.out, "ipreallocate")
		return exitCode(1)
	}
	if err := t.ipreallocate(); err != nil {
		return err
	}
	return t.done(true)
}
