#include "sinks/webhook.h"

#include <httplib.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sinks/alert_dispatcher.h"
#include "sinks/dead_letters.h"
#include "tests/testutil/http_receiver.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace vigie::sinks {
namespace {

using ::testing::HasSubstr;

using Receiver = testutil::HttpReceiver;

vigie::v1::Alert Firing(const std::string& fingerprint) {
  vigie::v1::Alert alert;
  alert.set_fingerprint(fingerprint);
  alert.set_rule_id("F3");
  alert.set_model_id("credit");
  alert.set_state(vigie::v1::ALERT_STATE_FIRING);
  alert.set_severity(vigie::v1::SEVERITY_CRITICAL);
  alert.set_element("Q2.4/2.4.d");
  return alert;
}

DispatcherOptions Fast() {
  DispatcherOptions options;
  options.resend_interval = absl::Hours(1);
  options.initial_backoff = absl::Milliseconds(20);
  options.max_backoff = absl::Milliseconds(40);
  return options;
}

template <typename Done>
bool WaitFor(Done done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

TEST(WebhookTest, BodyIsTheAlertsInProtobufJson) {
  const std::string body = WebhookBody({Firing("a"), Firing("b")});
  EXPECT_THAT(body, HasSubstr(R"("receiver":"vigie","version":"1")"));
  EXPECT_THAT(body, HasSubstr(R"("fingerprint":"a")"));
  EXPECT_THAT(body, HasSubstr(R"("state":"ALERT_STATE_FIRING")"));
  EXPECT_THAT(body, HasSubstr(R"("element":"Q2.4/2.4.d")"));
}

TEST(WebhookTest, AReceiverThatFailsFirstGetsTheAlertOnceItRecovers) {
  Receiver receiver(/*failures=*/3);
  WebhookOptions options;
  options.url = receiver.url();
  ASSERT_OK_AND_ASSIGN(auto sink, WebhookSink::Create(options));
  std::vector<std::unique_ptr<AlertSink>> sinks;
  sinks.push_back(std::move(sink));
  AlertDispatcher dispatcher(std::move(sinks), Fast());
  dispatcher.Update(Firing("a"), /*transition=*/true);
  // The dispatcher counts the delivery once the answer is back, a moment
  // after the receiver took the body.
  ASSERT_TRUE(WaitFor([&] { return dispatcher.Stats()[0].deliveries == 1; }));
  EXPECT_EQ(receiver.requests(), 4);  // Three refused, then taken.
  const std::vector<std::string> bodies = receiver.bodies();
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_THAT(bodies[0], HasSubstr(R"("fingerprint":"a")"));
  const auto stats = dispatcher.Stats();
  EXPECT_EQ(stats[0].failed_attempts, 3u);
  EXPECT_EQ(stats[0].deliveries, 1u);
  EXPECT_THAT(stats[0].last_error, HasSubstr("HTTP 503"));
}

TEST(WebhookTest, AReceiverThatStaysDownGetsItsAlertsDeadLettered) {
  Receiver receiver(/*failures=*/-1);
  testutil::TempDir dir;
  DeadLetterFile dead_letters(dir.Join("dead_letters.jsonl"));
  WebhookOptions webhook;
  webhook.url = receiver.url();
  ASSERT_OK_AND_ASSIGN(auto sink, WebhookSink::Create(webhook));
  std::vector<std::unique_ptr<AlertSink>> sinks;
  sinks.push_back(std::move(sink));
  DispatcherOptions options = Fast();
  options.max_attempts = 3;
  options.dead_letter = [&](const std::string& name,
                            absl::Span<const vigie::v1::Alert> alerts,
                            const absl::Status& error) {
    EXPECT_OK(dead_letters.Write(name, alerts, error, absl::Now()));
  };
  AlertDispatcher dispatcher(std::move(sinks), options);
  dispatcher.Update(Firing("a"), true);
  dispatcher.Update(Firing("b"), true);
  ASSERT_TRUE(WaitFor([&] { return dispatcher.Stats()[0].dead_lettered > 0; }));
  EXPECT_EQ(receiver.requests(), 3);
  const auto stats = dispatcher.Stats();
  EXPECT_EQ(stats[0].dead_lettered, 2u);
  EXPECT_EQ(stats[0].waiting, 0u);

  // Written just after the count, outside the dispatcher's lock.
  std::vector<std::string> lines;
  ASSERT_TRUE(WaitFor([&] {
    std::ifstream in(dead_letters.path());
    lines.clear();
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines.size() == 2;
  }));
  EXPECT_THAT(lines[0], HasSubstr(absl::StrCat(R"("sink":"webhook )",
                                               receiver.url(), "\"")));
  EXPECT_THAT(lines[0], HasSubstr("HTTP 503 busy"));
  EXPECT_THAT(lines[0], HasSubstr(R"("alert":{"fingerprint":"a")"));
  EXPECT_THAT(lines[1], HasSubstr(R"("alert":{"fingerprint":"b")"));
}

TEST(WebhookOptionsTest, UrlMustBeHttp) {
  WebhookOptions options;
  options.url = "https://hooks.example/x";
  EXPECT_THAT(options.Validate().message(), HasSubstr("webhook url"));
  options.url = "http://hooks:8080/x";
  EXPECT_OK(options.Validate());
}

}  // namespace
}  // namespace vigie::sinks
