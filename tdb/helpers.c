// C side of the traverse callbacks (libtdb calls goTraverseCallback with the
// cgo handle of the Go function as its private pointer) and of the bulk
// transfers of packed.go, which stay in C so that a record costs no cgo
// crossing.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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

/* Bulk transfer for recovery: records packed one after another as u32 key
 * length, u32 value length (both little-endian), key, value. */

struct rctdb_pack {
	unsigned char *buf;
	size_t len, cap, min_value;
	int oom;
};

static void put_u32(unsigned char *p, uint32_t v) {
	p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

static uint32_t get_u32(const unsigned char *p) {
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int rctdb_pack_fn(struct tdb_context *tdb, TDB_DATA k, TDB_DATA v, void *priv) {
	struct rctdb_pack *pk = priv;
	size_t need;
	if (v.dsize < pk->min_value) {
		return 0;
	}
	need = 8 + k.dsize + v.dsize;
	if (pk->len + need > pk->cap) {
		size_t cap = pk->cap ? pk->cap * 2 : 65536;
		unsigned char *b;
		while (cap < pk->len + need) {
			cap *= 2;
		}
		b = realloc(pk->buf, cap);
		if (b == NULL) {
			pk->oom = 1;
			return 1;
		}
		pk->buf = b;
		pk->cap = cap;
	}
	put_u32(pk->buf + pk->len, k.dsize);
	put_u32(pk->buf + pk->len + 4, v.dsize);
	memcpy(pk->buf + pk->len + 8, k.dptr, k.dsize);
	memcpy(pk->buf + pk->len + 8 + k.dsize, v.dptr, v.dsize);
	pk->len += need;
	return 0;
}

/* rctdb_pack_chains packs the records of chains [start, end) whose values
 * have at least min_value bytes, stopping before the chain at which limit
 * bytes are passed (limit 0: no limit). *out is malloc'ed (free it), *next
 * the first chain not packed. Returns 0, -1 on a libtdb error, -2 when out
 * of memory. */
int rctdb_pack_chains(struct tdb_context *tdb, unsigned start, unsigned end, size_t limit,
		size_t min_value, unsigned char **out, size_t *out_len, unsigned *next) {
	struct rctdb_pack pk = { .min_value = min_value };
	unsigned chain;
	for (chain = start; chain < end; chain++) {
		if (limit > 0 && pk.len >= limit) {
			break;
		}
		if (tdb_traverse_chain(tdb, chain, rctdb_pack_fn, &pk) < 0) {
			free(pk.buf);
			return pk.oom ? -2 : -1;
		}
	}
	*out = pk.buf;
	*out_len = pk.len;
	*next = chain;
	return 0;
}

/* rctdb_apply_packed stores every packed record (replacing), or deletes its
 * key when the value is empty (a missing key is no error). *count is how
 * many it applied; on failure *done is the offset of the record that
 * failed. Returns 0, -1 on a libtdb error, -2 when the buffer is
 * malformed. */
int rctdb_apply_packed(struct tdb_context *tdb, const unsigned char *buf, size_t len, size_t *done,
		size_t *count) {
	size_t off = 0;
	*count = 0;
	while (off < len) {
		TDB_DATA k, v;
		uint32_t kl, vl;
		*done = off;
		if (len - off < 8) {
			return -2;
		}
		kl = get_u32(buf + off);
		vl = get_u32(buf + off + 4);
		if ((size_t)kl + vl > len - off - 8) {
			return -2;
		}
		k.dptr = (unsigned char *)buf + off + 8;
		k.dsize = kl;
		v.dptr = (unsigned char *)buf + off + 8 + kl;
		v.dsize = vl;
		if (vl == 0) {
			if (tdb_delete(tdb, k) != 0 && tdb_error(tdb) != TDB_ERR_NOEXIST) {
				return -1;
			}
		} else if (tdb_store(tdb, k, v, TDB_REPLACE) != 0) {
			return -1;
		}
		off += 8 + (size_t)kl + vl;
		(*count)++;
	}
	*done = off;
	return 0;
}
