// Package testutil holds helpers shared by tests: unique loopback address
// ranges so that parallel test clusters never meet, and condition waits with
// deadlines instead of sleeps.
package testutil
