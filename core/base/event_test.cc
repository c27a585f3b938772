// MakeFileEventId: the id's text is part of the wire format (docs/wire-format.md), so it
// must stay "<16 lower-case hex digits>:<decimal offset>" whatever formats it.
#include "logship/event.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <limits>
#include <string>

namespace logship {
namespace {

TEST(MakeFileEventId, IsSixteenHexDigitsColonOffset) {
  const FileIdentity file{2049, 131075, 0x1234abcd};
  for (uint64_t offset : {uint64_t{0}, uint64_t{7}, uint64_t{1} << 40, std::numeric_limits<uint64_t>::max()}) {
    std::string id = MakeFileEventId("web-1", file, offset);
    auto colon = id.find(':');
    ASSERT_EQ(colon, 16u) << id;
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), 16u) << id;
    EXPECT_EQ(id.substr(17), std::to_string(offset));
  }
}

TEST(MakeFileEventId, SameInputsSameIdAndEachPartMatters) {
  const FileIdentity file{2049, 131075, 0x1234abcd};
  const std::string id = MakeFileEventId("web-1", file, 42);
  // Pinned: ids already stored must still match after an upgrade, or replays duplicate.
  EXPECT_EQ(id, "de49ead77c44d520:42");
  EXPECT_EQ(id, MakeFileEventId("web-1", file, 42));
  EXPECT_NE(id, MakeFileEventId("web-2", file, 42));
  EXPECT_NE(id, MakeFileEventId("web-1", FileIdentity{2050, 131075, 0x1234abcd}, 42));
  EXPECT_NE(id, MakeFileEventId("web-1", FileIdentity{2049, 131076, 0x1234abcd}, 42));
  EXPECT_NE(id, MakeFileEventId("web-1", FileIdentity{2049, 131075, 0x1234abce}, 42));
  // The hash part leads with zeros when small: fixed width, not trimmed.
  for (int i = 0; i < 2000; ++i) {
    std::string other = MakeFileEventId("h" + std::to_string(i), file, 1);
    ASSERT_EQ(other.size(), 18u) << other;
  }
}

TEST(ParseFileEventId, InvertsFileEventIdAndRejectsEverythingElse) {
  const FileIdentity file{2049, 131075, 0x1234abcd};
  for (uint64_t offset : {uint64_t{0}, uint64_t{42}, std::numeric_limits<uint64_t>::max()}) {
    const std::string id = MakeFileEventId("web-1", file, offset);
    auto h = ParseFileEventId(id, offset);
    ASSERT_TRUE(h.has_value()) << id;
    EXPECT_EQ(*h, FileEventIdHash("web-1", file));
    EXPECT_EQ(FileEventId(*h, offset), id);
    EXPECT_FALSE(ParseFileEventId(id, offset + 1).has_value());  // another offset
  }
  EXPECT_EQ(ParseFileEventId("000000000000000f:7", 7), 15u);
  EXPECT_FALSE(ParseFileEventId("DE49EAD77C44D520:42", 42));   // upper case prints back differently
  EXPECT_FALSE(ParseFileEventId("de49ead77c44d52:42", 42));    // 15 digits
  EXPECT_FALSE(ParseFileEventId("de49ead77c44d520-42", 42));   // no colon
  EXPECT_FALSE(ParseFileEventId("de49ead77c44d520:042", 42));  // not how the offset prints
  EXPECT_FALSE(ParseFileEventId("de49ead77c44d52g:42", 42));
  EXPECT_FALSE(ParseFileEventId("", 0));
  EXPECT_FALSE(ParseFileEventId("bench", 0));
}

}  // namespace
}  // namespace logship
