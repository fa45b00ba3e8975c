package main

// PfetchCmd is "ctdb pfetch DB KEY": a record of a persistent or
// replicated database, read in a read-only transaction.
type PfetchCmd struct{ Args }

// Run follows control_pfetch: attach, a read-only transaction (g_lock read
// lock), the record from our node's TDB, printed with "%.*s\n" (up to a
// NUL; a missing record is an empty line), then cancel.
func (c *PfetchCmd) Run(t *tool) error {
	args := c.Args.Args
	if len(args) != 2 {
		return t.usage()
	}
	ref, db, key, err := t.persistentKey(args)
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := t.startTx(db, true)
	if err != nil {
		return err
	}
	data, err := tx.Fetch(key)
	if err != nil {
		return t.txFailed(db, tx, err, "Failed to read record for key "+args[1]+"\n")
	}
	if t.opts.json {
		t.cancelTx(db, tx)
		return t.printJSON(t.keyValueJSON(ref, key, data))
	}
	t.printf("%s\n", untilNUL(data))
	t.cancelTx(db, tx)
	return nil
}
