package tdb

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrNotTDB marks a file that exists but is not a TDB libtdb can open.
var ErrNotTDB = errors.New("not a TDB file")

// OpenOrCreate opens the TDB at path read-write, creating it only when
// no file, or an empty one, is there. Unlike tdb_open with O_CREAT,
// which writes a new database over any file whose header is not a TDB's,
// it leaves a file that exists and is not a TDB as it is and returns an
// error wrapping ErrNotTDB.
func OpenOrCreate(path string, hashSize, tdbFlags int, mode uint32) (*DB, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return Open(path, hashSize, tdbFlags, os.O_RDWR|os.O_CREATE, mode)
	case err != nil:
		return nil, fmt.Errorf("tdb open %s: %w", path, err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("tdb open %s: %w: a %s, left as it is", path, ErrNotTDB, fi.Mode().Type())
	case fi.Size() == 0:
		return Open(path, hashSize, tdbFlags, os.O_RDWR|os.O_CREATE, mode)
	}
	// CLEAR_IF_FIRST truncates whatever the file holds before libtdb looks
	// at it: the header is checked here first.
	if err := checkMagic(path); err != nil {
		return nil, fmt.Errorf("tdb open %s: %w (%d bytes, left as it is)", path, err, fi.Size())
	}
	db, err := Open(path, hashSize, tdbFlags, os.O_RDWR, mode)
	if err != nil {
		return nil, fmt.Errorf("%w (%d bytes, left as it is): %w", err, fi.Size(), ErrNotTDB)
	}
	return db, nil
}

// magicFood starts every TDB file (TDB_MAGIC_FOOD).
const magicFood = "TDB file\n"

func checkMagic(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	b := make([]byte, len(magicFood))
	if _, err := io.ReadFull(f, b); err != nil || string(b) != magicFood {
		return ErrNotTDB
	}
	return nil
}
