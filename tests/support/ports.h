// Free loopback ports for tests: nothing in a test listens on a fixed port.
#pragma once

namespace logship::testing {

// Binds 127.0.0.1:0, reads the port the kernel chose, closes the socket and returns it.
// Another process may take the port before the caller binds it: callers that start a
// server retry with a new port when the bind fails. Returns -1 on failure.
int FreeLoopbackPort();

}  // namespace logship::testing
