package main

// ReadkeyCmd is "ctdb readkey DB KEY [readonly]": a record of a volatile
// database, migrated to our node first.
type ReadkeyCmd struct{ Args }

// Run follows control_readkey. "readonly" asks the real tool for a
// read-only delegation; client.DB has no read-only fetch, so the record
// is locked for writing as without it.
func (c *ReadkeyCmd) Run(t *tool) error {
	args := c.Args.Args
	if len(args) < 2 || len(args) > 3 {
		return t.usage()
	}
	if len(args) == 3 && args[2] != "readonly" {
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
			t.eprintf("Failed to read record for key %s\n", args[1])
		}
		return err
	}
	data := append([]byte(nil), rec.Data...)
	t.unlock(db, rec)
	if t.opts.json {
		return t.printJSON(t.keyValueJSON(ref, key, data))
	}
	t.print(formatReadkey(data))
	return nil
}
