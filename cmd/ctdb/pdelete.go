package main

// PdeleteCmd is "ctdb pdelete DB KEY": delete a record of a persistent or
// replicated database in a transaction.
type PdeleteCmd struct{ Args }

// Run follows control_pdelete: as pstore, with a store of empty data (the
// record stays as a header on every node).
func (c *PdeleteCmd) Run(t *tool) error {
	args := c.Args.Args
	if len(args) != 2 {
		return t.usage()
	}
	ref, db, key, err := t.persistentKey(args)
	if err != nil {
		return err
	}
	defer db.Close()
	return t.storeInTx(ref, db, key, nil, "Failed to delete record for key "+args[1]+"\n")
}
