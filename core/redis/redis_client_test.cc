#include "core/redis/redis_client.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <string>
#include <vector>

#include "tests/support/ports.h"
#include "tests/support/redis_server.h"

namespace logship {
namespace {

using std::chrono::milliseconds;

TEST(ClassifyRedisErrorTest, ConnectionFailuresAreRetryable) {
  for (int err : {REDIS_ERR_IO, REDIS_ERR_EOF, REDIS_ERR_PROTOCOL, REDIS_ERR_OOM, REDIS_ERR_OTHER}) {
    Status st = ClassifyRedisError(err, "Connection refused", "redis h:1");
    EXPECT_EQ(st.code(), StatusCode::kRetryable) << err;
    EXPECT_EQ(st.message(), "redis h:1: Connection refused");
  }
}

TEST(ClassifyRedisErrorTest, ServerSideTransientRepliesAreRetryable) {
  for (const char* reply :
       {"LOADING Redis is loading the dataset in memory",
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
        "TRYAGAIN Multiple keys request during rehashing of slot",
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        "CLUSTERDOWN The cluster is down",
        "OOM command not allowed when used memory > 'maxmemory'.",
        "READONLY You can't write against a read only replica."}) {
    EXPECT_EQ(ClassifyRedisError(0, reply, "").code(), StatusCode::kRetryable) << reply;
  }
}

TEST(ClassifyRedisErrorTest, RejectionsArePermanent) {
  for (const char* reply :
       {"WRONGTYPE Operation against a key holding the wrong kind of value",
        "NOAUTH Authentication required.",
        "WRONGPASS invalid username-password pair or user is disabled.",
        "NOPERM this user has no permissions to run the 'xadd' command",
        "ERR syntax error", "ERR unknown command 'FOO'",
        "NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option",
        "BUSYGROUP Consumer Group name already exists",
        "BUSYKEY Target key name already exists."}) {
    EXPECT_EQ(ClassifyRedisError(0, reply, "").code(), StatusCode::kPermanent) << reply;
  }
}

TEST(ClassifyRedisErrorTest, ErrorCodeMatchIsWholeWord) {
  EXPECT_TRUE(RedisErrorIs("NOGROUP No such key", "NOGROUP"));
  EXPECT_TRUE(RedisErrorIs("BUSY", "BUSY"));
  EXPECT_FALSE(RedisErrorIs("BUSYGROUP Consumer Group name already exists", "BUSY"));
  EXPECT_FALSE(RedisErrorIs("ERR", "NOGROUP"));
}

TEST(RedisClientTest, RefusedConnectionIsRetryable) {
  RedisConfig config;
  config.port = logship::testing::FreeLoopbackPort();
  config.timeout = milliseconds(500);
  RedisClient client(config);
  auto r = client.Command({"PING"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kRetryable) << r.status().message();
  EXPECT_FALSE(client.connected());
}

TEST(RedisClientTest, PipelineIsBinarySafeAndKeepsOrder) {
  logship::testing::RedisServer server;
  ASSERT_TRUE(server.Start().ok());
  RedisClient client(server.client_config());

  const std::string binary("a\0b\xff\xfe\r\n", 7);
  std::vector<RedisArgs> cmds;
  cmds.push_back({"SET", "k", binary});
  cmds.push_back({"GET", "k"});
  cmds.push_back({"LPUSH", "k", "x"});  // WRONGTYPE, in the middle of the pipeline
  cmds.push_back({"INCR", "n"});
  cmds.push_back({"GET", "missing"});
  auto replies = client.Pipeline(cmds);
  ASSERT_TRUE(replies.ok()) << replies.status().message();
  ASSERT_EQ(replies->size(), 5u);
  EXPECT_EQ((*replies)[0].str, "OK");
  EXPECT_EQ((*replies)[1].str, binary);
  ASSERT_TRUE((*replies)[2].is_error());
  EXPECT_EQ(ClassifyRedisError(0, (*replies)[2].str, "").code(), StatusCode::kPermanent);
  EXPECT_EQ((*replies)[3].integer, 1);
  EXPECT_TRUE((*replies)[4].is_nil());
}

TEST(RedisClientTest, ReconnectsAfterRestart) {
  logship::testing::RedisServer server;
  ASSERT_TRUE(server.Start().ok());
  RedisConfig config = server.client_config();
  config.timeout = milliseconds(1000);
  RedisClient client(config);
  ASSERT_TRUE(client.Command({"PING"}).ok());
  EXPECT_EQ(client.connects(), 1u);

  server.Kill();
  auto down = client.Command({"PING"});
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), StatusCode::kRetryable);
  auto still_down = client.Command({"PING"});  // connect refused
  EXPECT_EQ(still_down.status().code(), StatusCode::kRetryable);

  ASSERT_TRUE(server.Start().ok());
  auto up = client.Command({"PING"});
  ASSERT_TRUE(up.ok()) << up.status().message();
  EXPECT_EQ(up->str, "PONG");
  EXPECT_EQ(client.connects(), 2u);
}

TEST(RedisClientTest, ReadTimeoutIsRetryableAndExtraWaitExtendsIt) {
  logship::testing::RedisServer server;
  ASSERT_TRUE(server.Start().ok());
  RedisConfig config = server.client_config();
  config.timeout = milliseconds(100);
  RedisClient client(config);
  // BLOCK 1000 with a 100 ms read timeout: the client gives up first.
  auto r = client.Command({"BLPOP", "nothing", "1"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kRetryable) << r.status().message();
  // With the wait added to the timeout the same command returns nil.
  auto ok = client.Command({"BLPOP", "nothing", "1"}, milliseconds(1000));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_TRUE(ok->is_nil());
}

TEST(RedisClientTest, AclUserAndPasswordAndDb) {
  logship::testing::RedisServerOptions options;
  options.acl_user = "shipper";
  options.acl_password = "s3cret-acl";
  options.requirepass = "s3cret-default";
  logship::testing::RedisServer server(options);
  ASSERT_TRUE(server.Start().ok());

  RedisConfig config = server.client_config();
  config.db = 3;
  RedisClient client(config);
  auto who = client.Command({"ACL", "WHOAMI"});
  ASSERT_TRUE(who.ok()) << who.status().message();
  EXPECT_EQ(who->str, "shipper");
  ASSERT_TRUE(client.Command({"SET", "in-db-3", "1"}).ok());

  // The default user with requirepass, db 0: the key is not there.
  RedisConfig plain = server.client_config();
  plain.user.clear();
  plain.password.value = "s3cret-default";
  RedisClient default_user(plain);
  auto get = default_user.Command({"EXISTS", "in-db-3"});
  ASSERT_TRUE(get.ok()) << get.status().message();
  EXPECT_EQ(get->integer, 0);

  // Wrong password: Permanent, and the message does not carry the password.
  RedisConfig wrong = server.client_config();
  wrong.password.value = "not-the-password";
  RedisClient bad(wrong);
  Status st = bad.Connect();
  EXPECT_EQ(st.code(), StatusCode::kPermanent) << st.message();
  EXPECT_EQ(st.message().find("not-the-password"), std::string::npos);
  EXPECT_NE(st.message().find("WRONGPASS"), std::string::npos);
  EXPECT_FALSE(bad.connected());

  // No password at all: the first command is rejected with NOAUTH, Permanent.
  RedisConfig none = server.client_config();
  none.user.clear();
  none.password = {};
  RedisClient anon(none);
  auto r = anon.Command({"SET", "x", "1"});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->is_error());
  EXPECT_EQ(ClassifyRedisError(0, r->str, "").code(), StatusCode::kPermanent);
}

}  // namespace
}  // namespace logship
