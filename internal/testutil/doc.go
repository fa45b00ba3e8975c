// Package testutil holds helpers shared by tests: unique loopback address
// ranges so that parallel test clusters never meet, condition waits with
// deadlines instead of sleeps, and a reader that delivers a byte stream in
// chosen chunks, as stream fuzz targets feed a connection.
package testutil
