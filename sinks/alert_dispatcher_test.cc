#include "sinks/alert_dispatcher.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace vigie::sinks {
namespace {

// A receiver that refuses its first `failures` calls and records the
// others: a stand-in for the network end, to test the dispatcher's
// retries, batching and resends.
class RecordingSink final : public AlertSink {
 public:
  struct Log {
    absl::Mutex mu;
    int calls = 0;
    std::vector<std::vector<vigie::v1::Alert>> delivered;
  };
  RecordingSink(int failures, std::shared_ptr<Log> log)
      : failures_(failures), log_(std::move(log)) {}
  std::string name() const override { return "recording"; }
  absl::Status Deliver(absl::Span<const vigie::v1::Alert> alerts,
                       absl::Time) override {
    absl::MutexLock lock(&log_->mu);
    if (++log_->calls <= failures_) {
      return absl::UnavailableError("receiver down");
    }
    log_->delivered.emplace_back(alerts.begin(), alerts.end());
    return absl::OkStatus();
  }

 private:
  const int failures_;
  std::shared_ptr<RecordingSink::Log> log_;
};

vigie::v1::Alert Alert(const std::string& fingerprint,
                       vigie::v1::AlertState state, double value = 0.2) {
  vigie::v1::Alert alert;
  alert.set_fingerprint(fingerprint);
  alert.set_state(state);
  alert.set_value(value);
  return alert;
}

// Waits until `done` holds of the log, for up to 10 s.
template <typename Done>
bool WaitFor(RecordingSink::Log& log, Done done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    {
      absl::MutexLock lock(&log.mu);
      if (done(log)) return true;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

DispatcherOptions Fast() {
  DispatcherOptions options;
  options.resend_interval = absl::Hours(1);  // Out of the way unless tested.
  options.initial_backoff = absl::Milliseconds(20);
  options.max_backoff = absl::Milliseconds(80);
  return options;
}

std::unique_ptr<AlertDispatcher> Dispatcher(
    int failures, std::shared_ptr<RecordingSink::Log> log,
    DispatcherOptions options) {
  std::vector<std::unique_ptr<AlertSink>> sinks;
  sinks.push_back(std::make_unique<RecordingSink>(failures, std::move(log)));
  return std::make_unique<AlertDispatcher>(std::move(sinks), options);
}

TEST(AlertDispatcherTest, RetriesARefusingReceiverWithTheLatestStates) {
  auto log = std::make_shared<RecordingSink::Log>();
  auto dispatcher = Dispatcher(3, log, Fast());
  dispatcher->Update(Alert("a", vigie::v1::ALERT_STATE_FIRING), true);
  ASSERT_TRUE(WaitFor(*log, [](auto& l) { return l.calls >= 2; }));
  // Resolved while the receiver is down: the next try sends that, once.
  dispatcher->Update(Alert("a", vigie::v1::ALERT_STATE_RESOLVED), true);
  ASSERT_TRUE(WaitFor(*log, [](auto& l) { return !l.delivered.empty(); }));
  dispatcher.reset();  // Joins the thread.
  absl::MutexLock lock(&log->mu);
  EXPECT_EQ(log->calls, 4);  // Three refused, then delivered.
  ASSERT_EQ(log->delivered.size(), 1u);
  ASSERT_EQ(log->delivered[0].size(), 1u);
  EXPECT_EQ(log->delivered[0][0].state(), vigie::v1::ALERT_STATE_RESOLVED);
}

TEST(AlertDispatcherTest, OnlyTransitionsGoAtOnceAndPendingNeverGoes) {
  auto log = std::make_shared<RecordingSink::Log>();
  auto dispatcher = Dispatcher(0, log, Fast());
  dispatcher->Update(Alert("p", vigie::v1::ALERT_STATE_PENDING), false);
  dispatcher->Update(Alert("i", vigie::v1::ALERT_STATE_INACTIVE), false);
  dispatcher->Update(Alert("a", vigie::v1::ALERT_STATE_FIRING, 0.2), true);
  ASSERT_TRUE(WaitFor(*log, [](auto& l) { return l.delivered.size() == 1; }));
  // A refresh of its value waits for the next resend (an hour away).
  dispatcher->Update(Alert("a", vigie::v1::ALERT_STATE_FIRING, 0.3), false);
  absl::SleepFor(absl::Milliseconds(100));
  const auto stats = dispatcher->Stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].deliveries, 1u);
  EXPECT_EQ(stats[0].alerts_sent, 1u);
  EXPECT_EQ(stats[0].waiting, 0u);
  absl::MutexLock lock(&log->mu);
  ASSERT_EQ(log->delivered.size(), 1u);
  ASSERT_EQ(log->delivered[0].size(), 1u);
  EXPECT_EQ(log->delivered[0][0].fingerprint(), "a");
}

TEST(AlertDispatcherTest, FiringAlertsAreResentWithTheirLatestValues) {
  auto log = std::make_shared<RecordingSink::Log>();
  DispatcherOptions options = Fast();
  options.resend_interval = absl::Milliseconds(50);
  auto dispatcher = Dispatcher(0, log, options);
  dispatcher->Update(Alert("a", vigie::v1::ALERT_STATE_FIRING, 0.2), true);
  dispatcher->Update(Alert("a", vigie::v1::ALERT_STATE_FIRING, 0.3), false);
  ASSERT_TRUE(WaitFor(*log, [](auto& l) {
    return l.delivered.size() >= 2 && l.delivered.back()[0].value() == 0.3;
  }));
  // Once resolved, it is sent resolved, then no more.
  dispatcher->Update(Alert("a", vigie::v1::ALERT_STATE_RESOLVED), true);
  ASSERT_TRUE(WaitFor(*log, [](auto& l) {
    return l.delivered.back()[0].state() == vigie::v1::ALERT_STATE_RESOLVED;
  }));
  size_t after_resolution = 0;
  {
    absl::MutexLock lock(&log->mu);
    after_resolution = log->delivered.size();
  }
  absl::SleepFor(absl::Milliseconds(200));  // Four resend intervals.
  absl::MutexLock lock(&log->mu);
  EXPECT_EQ(log->delivered.size(), after_resolution);
}

TEST(AlertDispatcherTest, AWithdrawnAlertIsNoLongerResent) {
  auto log = std::make_shared<RecordingSink::Log>();
  DispatcherOptions options = Fast();
  options.resend_interval = absl::Milliseconds(50);
  auto dispatcher = Dispatcher(0, log, options);
  dispatcher->Update(Alert("a", vigie::v1::ALERT_STATE_FIRING), true);
  ASSERT_TRUE(WaitFor(*log, [](auto& l) { return l.delivered.size() >= 2; }));
  dispatcher->Withdraw("a");
  size_t after_withdrawal = 0;
  {
    absl::MutexLock lock(&log->mu);
    after_withdrawal = log->delivered.size();
  }
  absl::SleepFor(absl::Milliseconds(200));  // Four resend intervals.
  {
    absl::MutexLock lock(&log->mu);
    // At most a resend that was already under way.
    EXPECT_LE(log->delivered.size(), after_withdrawal + 1);
  }
  // Its resolution still goes.
  dispatcher->Update(Alert("a", vigie::v1::ALERT_STATE_RESOLVED), true);
  ASSERT_TRUE(WaitFor(*log, [](auto& l) {
    return l.delivered.back()[0].state() == vigie::v1::ALERT_STATE_RESOLVED;
  }));
}

}  // namespace
}  // namespace vigie::sinks
