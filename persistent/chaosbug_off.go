//go:build !chaosbug

package persistent

// ackBeforeApply is the deliberately injected bug of the fault campaign
// (chaosbug_on.go): off in every normal build.
const ackBeforeApply = false
