package linuxhost

// UseTickleKill makes h's KillConnections take the ctdb_killtcp path (tickle
// ACK, captured ACK, RST) even though this kernel can destroy sockets.
func UseTickleKill(h *Host) { h.killByTickle = true }
