// Package statistics keeps a node's packet and control counters and the
// history of intervals that `ctdb statistics` and `ctdb stats` show
// (STATISTICS, STATISTICS_RESET, STATISTICS_LIST in CTDB 4.17's layout).
// The counters are bumped without locks on the packet paths; the history
// closes an interval every StatHistoryInterval.
package statistics
