#include "parser/sinks/sqlite/sqlite_sink.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

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

// The file that stores event `id` of the day holding `t`.
std::string FileOf(const TempDir& dir, int64_t t, const std::string& id) {
  return dir.str() + "/" + DayFileName(t, ShardOfId(id));
}

// `sql` (one integer) summed over every day file of `dir`.
int64_t SumAll(const TempDir& dir, const std::string& sql) {
  int64_t sum = 0;
  for (const auto& entry : fs::directory_iterator(dir.str())) {
    if (DayFromFileName(entry.path().filename().string()) < 0) continue;
    for (const std::string& v : Query(entry.path().string(), sql)) sum += std::stoll(v);
  }
  return sum;
}

TEST(SqliteSinkTest, ShardFileNamesAndIdHash) {
  EXPECT_EQ(DayFileName(kT0, 0), "events-2023-11-14.db");
  EXPECT_EQ(DayFileName(kT0, 3), "events-2023-11-14.3.db");
  int shard = -1;
  EXPECT_EQ(DayFromFileName("events-2023-11-14.3.db", &shard), kT0 / kDay);
  EXPECT_EQ(shard, 3);
  EXPECT_EQ(DayFromFileName("events-2023-11-14.db", &shard), kT0 / kDay);
  EXPECT_EQ(shard, 0);
  EXPECT_EQ(DayFromFileName("events-2023-11-14.0.db"), -1);  // shard 0 has the plain name
  EXPECT_EQ(DayFromFileName("events-2023-11-14.4.db"), -1);  // past kDayShards
  EXPECT_EQ(DayFromFileName("events-2023-11-14.x.db"), -1);
  EXPECT_EQ(DayFromFileName("events-2023-11-14.3.db-wal"), -1);
  EXPECT_EQ(DayFromFileName("events-2023-13-14.db"), -1);
  // FNV-1a 64 modulo kDayShards: part of the storage format, so pinned here.
  static_assert(kDayShards == 4);
  EXPECT_EQ(ShardOfId("a:1"), 1);
  EXPECT_EQ(ShardOfId("a:2"), 0);
  EXPECT_EQ(ShardOfId("c:2"), 2);
  EXPECT_EQ(ShardOfId("web-1/123/0"), 3);
  EXPECT_EQ(ShardOfId(""), 1);
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

  std::string db = FileOf(dir, kT0, "a:1");
  const std::string db2 = FileOf(dir, kT0, "a:2");
  ASSERT_NE(db, db2);  // different shards
  EXPECT_EQ(SumAll(dir, "SELECT count(*) FROM events"), 2);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM events"), std::vector<std::string>{"1"});
  EXPECT_EQ(Query(db, "SELECT fields FROM events WHERE id='a:1'"),
            std::vector<std::string>{R"({"response":200,"took":0.5,"verb":"GET"})"});
  EXPECT_EQ(Query(db, "SELECT json_extract(fields,'$.response') FROM events WHERE id='a:1'"),
            std::vector<std::string>{"200"});
  EXPECT_EQ(Query(db2, "SELECT id FROM events WHERE seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH 'two')"),
            std::vector<std::string>{"a:2"});
  EXPECT_EQ(Query(db, "PRAGMA journal_mode"), std::vector<std::string>{"wal"});
  // Reopening the sink (a restarted parser) still deduplicates.
  sink.value().reset();
  auto again = SqliteSink::Open({dir.str(), 7}, clock);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again.value()->Write(batch).ok());
  EXPECT_EQ(again.value()->inserted_total(), 0u);
  EXPECT_EQ(SumAll(dir, "SELECT count(*) FROM events_fts WHERE events_fts MATCH 'line'"), 2);
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
  std::string db = FileOf(dir, kT0, "b:1");
  EXPECT_EQ(Query(db, "SELECT raw FROM events WHERE id='b:1'"), std::vector<std::string>{raw});
  EXPECT_EQ(Query(FileOf(dir, kT0, "b:2"), "SELECT raw FROM events WHERE id='b:2'"), std::vector<std::string>{big});
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
  const std::string old = FileOf(dir, kT0 - 2 * kDay, "c:1"), yesterday = FileOf(dir, kT0 - kDay, "c:2"),
                    today = FileOf(dir, kT0, "c:3");
  EXPECT_EQ(old, dir.str() + "/events-2023-11-12.3.db");
  EXPECT_TRUE(fs::exists(old));
  EXPECT_TRUE(fs::exists(yesterday));
  EXPECT_TRUE(fs::exists(today));
  // The day changes: with retention 2, 11-12 (whole day older than 2 days) goes at once.
  clock.AdvanceNs(kDay);
  ASSERT_TRUE(sink.value()->Write(std::span<const ParsedEvent>()).ok());
  EXPECT_FALSE(fs::exists(old));
  EXPECT_FALSE(fs::exists(old + "-wal"));
  EXPECT_FALSE(fs::exists(yesterday));
  EXPECT_TRUE(fs::exists(today));
  EXPECT_EQ(sink.value()->retention_deleted_files_total(), 2u);
  // Open applies retention too, to every shard of a day.
  std::ofstream(dir.str() + "/events-2020-01-01.db") << "";
  std::ofstream(dir.str() + "/events-2020-01-01.2.db") << "";
  std::ofstream(dir.str() + "/unrelated.db") << "";
  ASSERT_TRUE(SqliteSink::Open({dir.str(), 2}, clock).ok());
  EXPECT_FALSE(fs::exists(dir.str() + "/events-2020-01-01.db"));
  EXPECT_FALSE(fs::exists(dir.str() + "/events-2020-01-01.2.db"));
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
  // d:1 and c:1 create their shards' files (c:1's is d:2's).
  ASSERT_EQ(ShardOfId("c:1"), ShardOfId("d:2"));
  std::vector<ParsedEvent> batch = {Pe("d:1", kT0, "x"), Pe("c:1", kT0, "x")};
  ASSERT_TRUE(sink.value()->Write(batch).ok());
  // Another writer holds the write lock past the busy timeout.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(FileOf(dir, kT0, "d:2").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  // d:2's shard is locked; a:2's (another shard) is not: it is written first, and the
  // write fails Retryable once d:2 waited past the busy timeout.
  ASSERT_NE(ShardOfId("d:2"), ShardOfId("a:2"));
  batch = {Pe("d:2", kT0, "x"), Pe("a:2", kT0, "y")};
  Status st = sink.value()->Write(batch);
  EXPECT_EQ(st.code(), StatusCode::kRetryable) << st.ToString();
  EXPECT_EQ(sink.value()->inserted_total(), 3u);
  EXPECT_EQ(Query(FileOf(dir, kT0, "a:2"), "SELECT id FROM events"), std::vector<std::string>{"a:2"});
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_TRUE(sink.value()->Write(batch).ok());  // the retry succeeds; a:2 is a duplicate
  EXPECT_EQ(sink.value()->inserted_total(), 4u);
  EXPECT_EQ(sink.value()->duplicates_total(), 1u);
}

// Two sinks on one directory (two parser processes) writing overlapping batches at the
// same time, as after a redelivery: every id is stored once over all the shard files.
TEST(SqliteSinkTest, ConcurrentWritersStoreEachIdOnce) {
  TempDir dir;
  ManualClock clock(kT0);
  auto a = SqliteSink::Open({dir.str(), 7}, clock);
  auto b = SqliteSink::Open({dir.str(), 7}, clock);
  ASSERT_TRUE(a.ok() && b.ok());
  constexpr int kIds = 6000, kBatch = 500;
  auto run = [&](SqliteSink* sink, int first) {
    for (int begin = first; begin < first + kIds; begin += kBatch) {
      std::vector<ParsedEvent> batch;
      for (int i = begin; i < begin + kBatch; ++i) {
        int id = i % kIds;
        batch.push_back(Pe("e:" + std::to_string(id), kT0 + id, "line " + std::to_string(id)));
      }
      Status st;
      do {
        st = sink->Write(batch);
      } while (st.code() == StatusCode::kRetryable);
      ASSERT_TRUE(st.ok()) << st.ToString();
    }
  };
  std::thread ta(run, a.value().get(), 0), tb(run, b.value().get(), kIds / 2);  // overlap in a different order
  ta.join();
  tb.join();
  EXPECT_EQ(a.value()->inserted_total() + b.value()->inserted_total(), static_cast<uint64_t>(kIds));
  EXPECT_EQ(SumAll(dir, "SELECT count(*) FROM events"), kIds);
  EXPECT_EQ(SumAll(dir, "SELECT count(DISTINCT id) FROM events"), kIds);
  EXPECT_EQ(SumAll(dir, "SELECT count(*) FROM events_fts WHERE events_fts MATCH 'line'"), kIds);
  // Every shard was used, and each holds only its own ids.
  for (int k = 0; k < kDayShards; ++k) {
    const std::string path = dir.str() + "/" + DayFileName(kT0, k);
    ASSERT_TRUE(fs::exists(path)) << path;
    for (const std::string& id : Query(path, "SELECT id FROM events")) EXPECT_EQ(ShardOfId(id), k) << id;
  }
}

TEST(SqliteSinkTest, RequiresDir) {
  EXPECT_EQ(SqliteSink::Open({"", 7}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(SqliteSink::Open({"/proc/definitely/not/writable", 7}).ok());
}

}  // namespace
}  // namespace logship::sqlite
