// Test events shared by the queue tests.
#pragma once

#include "logship/event.h"

namespace logship::testing {

// Event number `i`, every field set and deterministic: a binary raw line (NUL bytes,
// invalid UTF-8, CR/LF, '=' and spaces, length varying with i), and a syslog header on
// every fifth event.
Event MakeTestEvent(int i);

// GoogleTest expectations that `a` and `b` agree in every field, syslog header included.
void ExpectSameEvent(const Event& a, const Event& b);

}  // namespace logship::testing
