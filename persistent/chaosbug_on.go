//go:build chaosbug

package persistent

// ackBeforeApply makes Commit answer before its Raft entry is committed
// and applied: the bug the fault campaign (make chaos CHAOS_BUG=1) must
// catch. Only a build with the tag chaosbug has it; never ship one.
const ackBeforeApply = true
