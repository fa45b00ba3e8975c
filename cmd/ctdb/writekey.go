package main

// WritekeyCmd is "ctdb writekey DB KEY VALUE": store a record of a
// volatile database, migrated to our node first.
type WritekeyCmd struct{ Args }

// Run follows control_writekey.
func (c *WritekeyCmd) Run(t *tool) error {
	args := c.Args.Args
	if len(args) != 3 {
		return t.usage()
	}
	ref, db, err := t.volatileDB(args[0])
	if err != nil {
		return err
	}
	defer db.Close()
	key, value, err := t.parseKeyValue(args[1], args[2])
	if err != nil {
		return err
	}
	rec, err := t.fetchLock(db, key)
	if err != nil {
		if !fatal(err) {
			// The real tool names the database argument here.
			t.eprintf("Failed to lock record for key %s\n", args[0])
		}
		return err
	}
	if err := t.storeRecord(db, rec, value); err != nil {
		if !fatal(err) {
			t.eprintf("Failed to store record for key %s\n", args[1])
		}
		return err
	}
	if t.opts.json {
		return t.printJSON(t.keyJSON(ref, key))
	}
	return nil
}
