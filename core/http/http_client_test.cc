#include "core/http/http_client.h"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include "tests/support/http_receiver.h"

namespace logship {
namespace {

using std::chrono::milliseconds;
using testing::CannedResponse;
using testing::HttpReceiver;

constexpr int64_t kNow = 1'700'000'000'000;  // 2023-11-14T22:13:20Z

TEST(ClassifyHttpResultTest, SuccessStatusesAreOk) {
  for (long status : {200L, 201L, 202L, 204L, 299L}) {
    EXPECT_EQ(ClassifyHttpResult(CURLE_OK, status, "", kNow).kind, HttpVerdictKind::kOk)
        << status;
  }
}

TEST(ClassifyHttpResultTest, OverloadAndServerErrorsAreRetryable) {
  for (long status : {408L, 429L, 500L, 502L, 503L, 504L, 599L}) {
    HttpVerdict v = ClassifyHttpResult(CURLE_OK, status, "", kNow);
    EXPECT_EQ(v.kind, HttpVerdictKind::kRetryable) << status;
    EXPECT_EQ(v.retry_after, milliseconds(0)) << status;
    EXPECT_EQ(v.reason, "HTTP " + std::to_string(status));
  }
}

TEST(ClassifyHttpResultTest, OtherClientErrorsAndRedirectsArePermanent) {
  for (long status : {400L, 401L, 403L, 404L, 409L, 413L, 422L, 301L, 302L, 100L}) {
    EXPECT_EQ(ClassifyHttpResult(CURLE_OK, status, "", kNow).kind, HttpVerdictKind::kPermanent)
        << status;
  }
}

TEST(ClassifyHttpResultTest, RetryAfterSecondsAndDate) {
  EXPECT_EQ(ClassifyHttpResult(CURLE_OK, 429, "7", kNow).retry_after, milliseconds(7000));
  EXPECT_EQ(ClassifyHttpResult(CURLE_OK, 503, " 2 ", kNow).retry_after, milliseconds(2000));
  // kNow + 30 s as an HTTP-date.
  EXPECT_EQ(ClassifyHttpResult(CURLE_OK, 503, "Tue, 14 Nov 2023 22:13:50 GMT", kNow).retry_after,
            milliseconds(30000));
  // A date in the past, garbage, or a negative number mean "no hint".
  EXPECT_EQ(ClassifyHttpResult(CURLE_OK, 503, "Tue, 14 Nov 2023 22:00:00 GMT", kNow).retry_after,
            milliseconds(0));
  EXPECT_EQ(ClassifyHttpResult(CURLE_OK, 503, "soon", kNow).retry_after, milliseconds(0));
  EXPECT_EQ(ClassifyHttpResult(CURLE_OK, 503, "-5", kNow).retry_after, milliseconds(0));
  // Retry-After on a permanent answer is not a hint to retry.
  EXPECT_EQ(ClassifyHttpResult(CURLE_OK, 400, "5", kNow).retry_after, milliseconds(0));
}

TEST(ClassifyHttpResultTest, TransportErrors) {
  for (CURLcode rc : {CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_OPERATION_TIMEDOUT,
                      CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING,
                      CURLE_SSL_CONNECT_ERROR}) {
    EXPECT_EQ(ClassifyHttpResult(rc, 0, "", kNow).kind, HttpVerdictKind::kRetryable) << rc;
  }
  for (CURLcode rc : {CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL,
                      CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE}) {
    EXPECT_EQ(ClassifyHttpResult(rc, 0, "", kNow).kind, HttpVerdictKind::kPermanent) << rc;
  }
  // The status is ignored when the transfer failed.
  EXPECT_EQ(ClassifyHttpResult(CURLE_COULDNT_CONNECT, 200, "", kNow).kind,
            HttpVerdictKind::kRetryable);
}

TEST(HttpClientTest, PostSendsBodyAndHeadersAndReusesTheConnection) {
  auto receiver = HttpReceiver::Start();
  ASSERT_TRUE(receiver.ok()) << receiver.status().ToString();
  CannedResponse answer;
  answer.status = 202;
  answer.body = R"({"status":"success"})";
  answer.headers = {{"X-Answer", "42"}};
  (*receiver)->SetDefaultResponse(answer);

  HttpClient client;
  for (int i = 0; i < 3; ++i) {
    auto resp = client.Post((*receiver)->url("/v2/enqueue"), "{\"n\":" + std::to_string(i) + "}",
                            {{"Content-Type", "application/json"}, {"X-Token", "t"}},
                            milliseconds(5000));
    ASSERT_TRUE(resp.ok()) << resp.status().ToString();
    EXPECT_EQ(resp->status, 202);
    EXPECT_EQ(resp->body, R"({"status":"success"})");
    EXPECT_EQ(resp->Header("x-answer"), "42");
  }
  ASSERT_TRUE((*receiver)->WaitForRequests(3, milliseconds(5000)));
  auto reqs = (*receiver)->requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].path, "/v2/enqueue");
  EXPECT_EQ(reqs[0].body, "{\"n\":0}");
  EXPECT_EQ(reqs[2].body, "{\"n\":2}");
  EXPECT_EQ(reqs[1].Header("Content-Type"), "application/json");
  EXPECT_EQ(reqs[1].Header("X-Token"), "t");
  EXPECT_EQ(reqs[1].Header("Expect"), "");
  EXPECT_EQ((*receiver)->connections_accepted(), 1u) << "connection was not reused";
}

TEST(HttpClientTest, LargeBodyArrivesWhole) {
  auto receiver = HttpReceiver::Start();
  ASSERT_TRUE(receiver.ok());
  HttpClient client;
  std::string body(300000, 'x');
  auto resp = client.Post((*receiver)->url("/big"), body, {}, milliseconds(5000));
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  ASSERT_TRUE((*receiver)->WaitForRequests(1, milliseconds(5000)));
  EXPECT_EQ((*receiver)->requests()[0].body.size(), body.size());
}

TEST(HttpClientTest, ServerErrorIsRetryableWithRetryAfter) {
  auto receiver = HttpReceiver::Start();
  ASSERT_TRUE(receiver.ok());
  CannedResponse busy;
  busy.status = 503;
  busy.headers = {{"Retry-After", "3"}};
  (*receiver)->EnqueueResponse(busy);
  (*receiver)->EnqueueStatuses({400});

  HttpClient client;
  auto first = client.Post((*receiver)->url("/x?routing_key=secret"), "{}", {}, milliseconds(5000));
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), StatusCode::kRetryable);
  EXPECT_NE(first.status().message().find("HTTP 503"), std::string::npos);
  EXPECT_EQ(first.status().message().find("secret"), std::string::npos) << "query leaked";
  EXPECT_EQ(client.last_retry_after(), milliseconds(3000));

  auto second = client.Post((*receiver)->url("/x"), "{}", {}, milliseconds(5000));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kPermanent);
  EXPECT_EQ(client.last_retry_after(), milliseconds(0));

  auto third = client.Get((*receiver)->url("/health"), {}, milliseconds(5000));
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  ASSERT_TRUE((*receiver)->WaitForRequests(3, milliseconds(5000)));
  EXPECT_EQ((*receiver)->requests()[2].method, "GET");
}

TEST(HttpClientTest, TimeoutIsRetryable) {
  auto receiver = HttpReceiver::Start();
  ASSERT_TRUE(receiver.ok());
  CannedResponse slow;
  slow.delay = milliseconds(2000);
  (*receiver)->EnqueueResponse(slow);
  HttpClient client;
  auto resp = client.Post((*receiver)->url("/slow"), "{}", {}, milliseconds(200));
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), StatusCode::kRetryable) << resp.status().ToString();
}

TEST(HttpClientTest, ConnectionRefusedIsRetryable) {
  int port;
  {
    auto receiver = HttpReceiver::Start();
    ASSERT_TRUE(receiver.ok());
    port = (*receiver)->port();
  }  // stopped: nothing listens on the port now
  HttpClient client;
  auto resp = client.Post("http://127.0.0.1:" + std::to_string(port) + "/", "{}", {},
                          milliseconds(2000));
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), StatusCode::kRetryable) << resp.status().ToString();
}

TEST(HttpClientTest, PostAnyStatusReturnsErrorRepliesAsValues) {
  auto receiver = HttpReceiver::Start();
  ASSERT_TRUE(receiver.ok());
  CannedResponse r;
  r.status = 500;
  r.body = "Code: 252, e.displayText() = DB::Exception: Too many parts";
  (*receiver)->EnqueueResponse(r);
  HttpClient client;
  auto resp = client.PostAnyStatus((*receiver)->url("/"), "x", {}, milliseconds(2000));
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 500);
  EXPECT_EQ(resp->body, r.body);
  // Without a response it is still a Status.
  int port = (*receiver)->port();
  receiver->reset();
  auto refused = client.PostAnyStatus("http://127.0.0.1:" + std::to_string(port) + "/", "x", {}, milliseconds(2000));
  EXPECT_EQ(refused.status().code(), StatusCode::kRetryable) << refused.status().ToString();
}

TEST(HttpClientTest, MalformedUrlIsPermanent) {
  HttpClient client;
  auto resp = client.Post("ftp://127.0.0.1/", "{}", {}, milliseconds(1000));
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), StatusCode::kPermanent) << resp.status().ToString();
}

}  // namespace
}  // namespace logship
