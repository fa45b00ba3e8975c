package main

// PstoreCmd is "ctdb pstore DB KEY VALUE": write a record of a persistent
// or replicated database in a transaction.
type PstoreCmd struct{ Args }

// Run follows control_pstore: attach, parse key and value, a transaction
// (g_lock write lock), the store, and the commit (TRANS3_COMMIT).
func (c *PstoreCmd) Run(t *tool) error {
	args := c.Args.Args
	if len(args) != 3 {
		return t.usage()
	}
	ref, db, key, err := t.persistentKey(args)
	if err != nil {
		return err
	}
	defer db.Close()
	value, err := t.parseArg(args[2], "value")
	if err != nil {
		return err
	}
	return t.storeInTx(ref, db, key, value, "Failed to store record for key "+args[1]+"\n")
}
