package main

// DeletekeyCmd is "ctdb deletekey DB KEY": empty a record of a volatile
// database (migrated to our node first) and schedule it for deletion.
type DeletekeyCmd struct{ Args }

// Run follows control_deletekey.
func (c *DeletekeyCmd) Run(t *tool) error {
	args := c.Args.Args
	if len(args) != 2 {
		return t.usage()
	}
	ref, db, err := t.volatileDB(args[0])
	if err != nil {
		return err
	}
	defer db.Close()
	key, err := t.parseArg(args[1], "key")
	if err != nil {
		return err
	}
	rec, err := t.fetchLock(db, key)
	if err != nil {
		if !fatal(err) {
			t.eprintf("Failed to fetch record for key %s\n", args[1])
		}
		return err
	}
	if err := t.deleteRecord(db, rec); err != nil {
		if !fatal(err) {
			t.eprintf("Failed to delete record for key %s\n", args[1])
		}
		return err
	}
	if t.opts.json {
		return t.printJSON(t.keyJSON(ref, key))
	}
	return nil
}
