#include "parser/sinks/sqlite/sqlite_sink.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace logship::sqlite {
namespace {

using namespace std::string_literals;

namespace fs = std::filesystem;
constexpr int64_t kDay = 86'400LL * 1'000'000'000;
constexpr int64_t kT0 = 1'700'000'000'000'000'000;  // 2023-11-14T22:13:20Z

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("logship-sqlite-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

ParsedEvent Pe(std::string id, int64_t t, std::string raw) {
  ParsedEvent p;
  p.event.id = std::move(id);
  p.event.time_ns = t;
  p.event.host = "web-1";
  p.event.source = "/var/log/nginx/access.log";
  p.event.type = "nginx";
  p.event.offset = 42;
  p.event.raw = std::move(raw);
  p.fields.push_back({"response", int64_t{200}});
  p.fields.push_back({"verb", std::string("GET")});
  p.fields.push_back({"took", 0.5});
  return p;
}

// Runs `sql` on `path` and returns the first column of each row as bytes.
std::vector<std::string> Query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::vector<std::string> out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const void* p = sqlite3_column_blob(st, 0);
    int n = sqlite3_column_bytes(st, 0);
    out.emplace_back(p ? static_cast<const char*>(p) : "", n);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

TEST(SqliteSinkTest, DayFileNames) {
  EXPECT_EQ(DayFileName(kT0), "events-2023-11-14.db");
  EXPECT_EQ(DayFileName(0), "events-1970-01-01.db");
  EXPECT_EQ(DayFileName(-1), "events-1969-12-31.db");
  EXPECT_EQ(DayFromFileName("events-2023-11-14.db"), kT0 / kDay);
  EXPECT_EQ(DayFromFileName("events-2023-11-14.db-wal"), -1);
  EXPECT_EQ(DayFromFileName("other.db"), -1);
}

TEST(SqliteSinkTest, WritesAndDeduplicatesIds) {
  TempDir dir;
  ManualClock clock(kT0);
  auto sink = SqliteSink::Open({dir.str(), 7}, clock);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  std::vector<ParsedEvent> batch = {Pe("a:1", kT0, "line one"), Pe("a:2", kT0 + 1, "line two"),
                                    Pe("a:1", kT0, "line one")};
  ASSERT_TRUE(sink.value()->Write(batch).ok());
  EXPECT_EQ(sink.value()->inserted_total(), 2u);
  EXPECT_EQ(sink.value()->duplicates_total(), 1u);
  // A replay of the whole batch stores nothing new.
  ASSERT_TRUE(sink.value()->Write(batch).ok());
  EXPECT_EQ(sink.value()->inserted_total(), 2u);
  EXPECT_EQ(sink.value()->duplicates_total(), 4u);

  std::string db = dir.str() + "/events-2023-11-14.db";
  EXPECT_EQ(Query(db, "SELECT count(*) FROM events"), std::vector<std::string>{"2"});
  EXPECT_EQ(Query(db, "SELECT fields FROM events WHERE id='a:1'"),
            std::vector<std::string>{R"({"response":200,"took":0.5,"verb":"GET"})"});
  EXPECT_EQ(Query(db, "SELECT json_extract(fields,'$.response') FROM events WHERE id='a:1'"),
            std::vector<std::string>{"200"});
  EXPECT_EQ(Query(db, "SELECT id FROM events WHERE seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH 'two')"),
            std::vector<std::string>{"a:2"});
  EXPECT_EQ(Query(db, "PRAGMA journal_mode"), std::vector<std::string>{"wal"});
  // Reopening the sink (a restarted parser) still deduplicates.
  sink.value().reset();
  auto again = SqliteSink::Open({dir.str(), 7}, clock);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again.value()->Write(batch).ok());
  EXPECT_EQ(again.value()->inserted_total(), 0u);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM events_fts WHERE events_fts MATCH 'line'"),
            std::vector<std::string>{"2"});
}

TEST(SqliteSinkTest, RawBytesStoredLosslessly) {
  TempDir dir;
  ManualClock clock(kT0);
  auto sink = SqliteSink::Open({dir.str(), 7}, clock);
  ASSERT_TRUE(sink.ok());
  std::string raw = "bad \xff\xfe utf8 \xc3\x28 and nul \0 inside"s;  // 31 bytes, NUL included
  std::string big(1 << 20, 'x');
  big[100] = '\0';
  std::vector<ParsedEvent> batch = {Pe("b:1", kT0, raw), Pe("b:2", kT0, big)};
  batch[0].fields.push_back({"req", std::string("/\xff")});
  ASSERT_TRUE(sink.value()->Write(batch).ok());
  std::string db = dir.str() + "/events-2023-11-14.db";
  EXPECT_EQ(Query(db, "SELECT raw FROM events WHERE id='b:1'"), std::vector<std::string>{raw});
  EXPECT_EQ(Query(db, "SELECT raw FROM events WHERE id='b:2'"), std::vector<std::string>{big});
  EXPECT_EQ(Query(db, "SELECT id FROM events WHERE seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH 'utf8')"),
            std::vector<std::string>{"b:1"});
}

TEST(SqliteSinkTest, OneFilePerDayAndRetention) {
  TempDir dir;
  ManualClock clock(kT0);
  auto sink = SqliteSink::Open({dir.str(), 2}, clock);
  ASSERT_TRUE(sink.ok());
  std::vector<ParsedEvent> batch = {Pe("c:1", kT0 - 2 * kDay, "old"), Pe("c:2", kT0 - kDay, "yesterday"),
                                    Pe("c:3", kT0, "today")};
  ASSERT_TRUE(sink.value()->Write(batch).ok());
  EXPECT_TRUE(fs::exists(dir.str() + "/events-2023-11-12.db"));
  EXPECT_TRUE(fs::exists(dir.str() + "/events-2023-11-13.db"));
  EXPECT_TRUE(fs::exists(dir.str() + "/events-2023-11-14.db"));
  // The day changes: with retention 2, 11-12 (whole day older than 2 days) goes at once.
  clock.AdvanceNs(kDay);
  ASSERT_TRUE(sink.value()->Write(std::span<const ParsedEvent>()).ok());
  EXPECT_FALSE(fs::exists(dir.str() + "/events-2023-11-12.db"));
  EXPECT_FALSE(fs::exists(dir.str() + "/events-2023-11-12.db-wal"));
  EXPECT_FALSE(fs::exists(dir.str() + "/events-2023-11-13.db"));
  EXPECT_TRUE(fs::exists(dir.str() + "/events-2023-11-14.db"));
  EXPECT_EQ(sink.value()->retention_deleted_files_total(), 2u);
  // Open applies retention too.
  std::ofstream(dir.str() + "/events-2020-01-01.db") << "";
  std::ofstream(dir.str() + "/unrelated.db") << "";
  ASSERT_TRUE(SqliteSink::Open({dir.str(), 2}, clock).ok());
  EXPECT_FALSE(fs::exists(dir.str() + "/events-2020-01-01.db"));
  EXPECT_TRUE(fs::exists(dir.str() + "/unrelated.db"));
}

TEST(SqliteSinkTest, ErrorClassification) {
  EXPECT_TRUE(ClassifySqliteError(SQLITE_OK, "x").ok());
  EXPECT_TRUE(ClassifySqliteError(SQLITE_DONE, "x").ok());
  EXPECT_EQ(ClassifySqliteError(SQLITE_BUSY, "x").code(), StatusCode::kRetryable);
  EXPECT_EQ(ClassifySqliteError(SQLITE_BUSY_SNAPSHOT, "x").code(), StatusCode::kRetryable);
  EXPECT_EQ(ClassifySqliteError(SQLITE_LOCKED, "x").code(), StatusCode::kRetryable);
  EXPECT_EQ(ClassifySqliteError(SQLITE_IOERR_FSYNC, "x").code(), StatusCode::kRetryable);
  EXPECT_EQ(ClassifySqliteError(SQLITE_FULL, "x").code(), StatusCode::kRetryable);
  EXPECT_EQ(ClassifySqliteError(SQLITE_CANTOPEN, "x").code(), StatusCode::kRetryable);
  EXPECT_EQ(ClassifySqliteError(SQLITE_CORRUPT, "x").code(), StatusCode::kPermanent);
  EXPECT_EQ(ClassifySqliteError(SQLITE_NOTADB, "x").code(), StatusCode::kPermanent);
  EXPECT_EQ(ClassifySqliteError(SQLITE_CONSTRAINT, "x").code(), StatusCode::kPermanent);
  EXPECT_EQ(ClassifySqliteError(SQLITE_TOOBIG, "x").code(), StatusCode::kPermanent);
  EXPECT_EQ(ClassifySqliteError(SQLITE_ERROR, "x").code(), StatusCode::kPermanent);
}

TEST(SqliteSinkTest, BusyDatabaseIsRetryable) {
  TempDir dir;
  ManualClock clock(kT0);
  auto sink = SqliteSink::Open({dir.str(), 7}, clock, Millis(100));
  ASSERT_TRUE(sink.ok());
  std::vector<ParsedEvent> batch = {Pe("d:1", kT0, "x")};
  ASSERT_TRUE(sink.value()->Write(batch).ok());
  // Another writer holds the write lock past the busy timeout.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((dir.str() + "/events-2023-11-14.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  batch[0].event.id = "d:2";
  Status st = sink.value()->Write(batch);
  EXPECT_EQ(st.code(), StatusCode::kRetryable) << st.ToString();
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_TRUE(sink.value()->Write(batch).ok());  // the retry succeeds
  EXPECT_EQ(sink.value()->inserted_total(), 2u);
}

TEST(SqliteSinkTest, RequiresDir) {
  EXPECT_EQ(SqliteSink::Open({"", 7}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(SqliteSink::Open({"/proc/definitely/not/writable", 7}).ok());
}

}  // namespace
}  // namespace logship::sqlite
