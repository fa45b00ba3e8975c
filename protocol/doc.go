// Package protocol encodes and decodes every packet and payload of the CTDB
// 4.17 wire protocol, as spoken on the client Unix socket and between nodes.
//
// It owns the 32-byte packet header, the operations (REQ_CALL through
// REQ_TUNNEL), the control opcodes and their request and reply payloads, and
// the structures carried in them (node map, vnn map, dbid map, ltdb header,
// record buffers, public IP lists, tunables, statistics). It performs no I/O
// beyond framing a byte stream into packets and imports nothing of ours.
//
// Layouts follow the x86_64 C structs of CTDB 4.17: little-endian integers,
// explicit padding where the compiler would insert it, no alignment after
// variable-length data. Decoders accept the unpadded packets Samba writes;
// encoders emit packets padded to a multiple of 8 bytes, as ctdbd does.
//
// Decoded byte slices (keys, data, strings) alias the input buffer: copy them
// if the buffer is reused.
package protocol
