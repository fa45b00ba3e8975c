// C side of the traverse callbacks: libtdb calls goTraverseCallback with the
// cgo handle of the Go function as its private pointer.
#include <stdint.h>
#include <sys/types.h>
#include <fcntl.h>
#include <tdb.h>
#include "_cgo_export.h"

int rctdb_traverse_chain(struct tdb_context *tdb, unsigned chain, uintptr_t h) {
	return tdb_traverse_chain(tdb, chain, goTraverseCallback, (void *)h);
}

int rctdb_traverse_read(struct tdb_context *tdb, uintptr_t h) {
	return tdb_traverse_read(tdb, goTraverseCallback, (void *)h);
}

int rctdb_traverse(struct tdb_context *tdb, uintptr_t h) {
	return tdb_traverse(tdb, goTraverseCallback, (void *)h);
}

unsigned int rctdb_jenkins_hash(const unsigned char *p, size_t n) {
	TDB_DATA d = { .dptr = (unsigned char *)p, .dsize = n };
	return tdb_jenkins_hash(&d);
}
