package main

import (
	"fmt"

	"github.com/rctdb/rctdb/protocol"
)

// GetdbmapCmd is "ctdb getdbmap": the databases attached on the addressed
// node.
type GetdbmapCmd struct{ Args }

// dbStatus is a database as getdbmap shows it.
type dbStatus struct {
	ID     uint32
	Name   string
	Path   string
	Flags  uint8
	Health *string // nil: healthy
}

// formatDBMapHeader is what control_getdbmap prints before the databases.
func formatDBMapHeader(n int, machine bool, sep string) string {
	if machine {
		s := sep
		for _, h := range []string{"ID", "Name", "Path", "Persistent", "Sticky", "Unhealthy", "Readonly", "Replicated"} {
			s += h + sep
		}
		return s + "\n"
	}
	return fmt.Sprintf("Number of databases:%d\n", n)
}

// formatDBMapLine is control_getdbmap's line for one database.
func formatDBMapLine(d dbStatus, machine bool, sep string) string {
	persistent := d.Flags&protocol.DBFlagPersistent != 0
	readonly := d.Flags&protocol.DBFlagReadonly != 0
	sticky := d.Flags&protocol.DBFlagSticky != 0
	replicated := d.Flags&protocol.DBFlagReplicated != 0
	unhealthy := d.Health != nil
	if machine {
		return fmt.Sprintf("%[1]s0x%08[2]X%[1]s%[3]s%[1]s%[4]s%[1]s%[5]d%[1]s%[6]d%[1]s%[7]d%[1]s%[8]d%[1]s%[9]d%[1]s\n",
			sep, d.ID, d.Name, d.Path, b2i(persistent), b2i(sticky), b2i(unhealthy), b2i(readonly), b2i(replicated))
	}
	word := func(b bool, w string) string {
		if b {
			return " " + w
		}
		return ""
	}
	return fmt.Sprintf("dbid:0x%08x name:%s path:%s%s%s%s%s%s\n", d.ID, d.Name, d.Path,
		word(persistent, "PERSISTENT"), word(sticky, "STICKY"), word(readonly, "READONLY"),
		word(replicated, "REPLICATED"), word(unhealthy, "UNHEALTHY"))
}

// Run follows control_getdbmap: GET_DBMAP, then GET_DBNAME, GETDBPATH and
// DB_GET_HEALTH for each database, printing each line as it is known.
func (c *GetdbmapCmd) Run(t *tool) error {
	if len(c.Args.Args) != 0 {
		return t.usage()
	}
	m, err := t.getDBMap(t.cmdPNN)
	if err != nil {
		return err
	}
	if !t.opts.json {
		t.print(formatDBMapHeader(len(m.DBs), t.opts.machine, t.opts.sep))
	}
	dbs := []jsonDBStatus{}
	for _, db := range m.DBs {
		d, err := t.dbStatus(t.cmdPNN, db.DBID, db.Flags, nil)
		if err != nil {
			return err
		}
		if t.opts.json {
			dbs = append(dbs, dbStatusJSON(d.ID, d.Name, d.Flags, d.Path, d.Health))
			continue
		}
		t.print(formatDBMapLine(d, t.opts.machine, t.opts.sep))
	}
	if t.opts.json {
		return t.printJSON(struct {
			PNN       uint32         `json:"pnn"`
			Databases []jsonDBStatus `json:"databases"`
		}{t.cmdPNN, dbs})
	}
	return nil
}

// dbStatus reads a database's name (unless given), path and health from
// node dest.
func (t *tool) dbStatus(dest, id uint32, flags uint8, name *string) (dbStatus, error) {
	d := dbStatus{ID: id, Flags: flags}
	var err error
	if name != nil {
		d.Name = *name
	} else if d.Name, err = t.getDBName(dest, id); err != nil {
		return d, err
	}
	if d.Path, err = t.getDBPath(dest, id); err != nil {
		return d, err
	}
	d.Health, err = t.getDBHealth(dest, id)
	return d, err
}
