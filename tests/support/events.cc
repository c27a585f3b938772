#include "tests/support/events.h"

#include <gtest/gtest.h>

#include <string>

namespace logship::testing {

using namespace std::string_literals;

Event MakeTestEvent(int i) {
  Event e;
  e.id = "0123456789abcdef:" + std::to_string(i * 100);
  e.time_ns = 1'700'000'000'000'000'000 + i;
  e.host = "host-" + std::to_string(i % 7);
  e.source = "/var/log/app/" + std::to_string(i % 3) + ".log";
  e.type = i % 2 ? "nginx" : "syslog";
  e.offset = static_cast<uint64_t>(i) * 100;
  e.raw = "line " + std::to_string(i) + "\0mid\xff\xfe\xc3(\r\nk=v "s + std::string(static_cast<size_t>(i % 50), 'x');
  if (i % 5 == 0) {
    SyslogHeader h;
    h.facility = i % 24;
    h.severity = i % 8;
    h.app = "sshd";
    h.procid = std::to_string(1000 + i);
    h.msgid = "ID47";
    h.structured_data = "[exampleSDID@32473 iut=\"3\"]";
    e.syslog = h;
  }
  return e;
}

void ExpectSameEvent(const Event& a, const Event& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.time_ns, b.time_ns);
  EXPECT_EQ(a.host, b.host);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.offset, b.offset);
  EXPECT_EQ(a.raw, b.raw);
  ASSERT_EQ(a.syslog.has_value(), b.syslog.has_value()) << a.id;
  if (a.syslog) {
    EXPECT_EQ(a.syslog->facility, b.syslog->facility);
    EXPECT_EQ(a.syslog->severity, b.syslog->severity);
    EXPECT_EQ(a.syslog->app, b.syslog->app);
    EXPECT_EQ(a.syslog->procid, b.syslog->procid);
    EXPECT_EQ(a.syslog->msgid, b.syslog->msgid);
    EXPECT_EQ(a.syslog->structured_data, b.syslog->structured_data);
  }
}

}  // namespace logship::testing
