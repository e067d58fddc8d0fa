#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "sinks/alert_sink.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::sinks {

struct DispatcherOptions {
  // Firing alerts are sent again this often, so that a receiver that lost
  // them (a restarted Alertmanager) has them again. Default: 1 minute.
  absl::Duration resend_interval = absl::Minutes(1);
  // After a failed delivery to a sink, the next try waits this long,
  // doubling up to max_backoff. Defaults: 1 s, 1 minute.
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Minutes(1);
  // Failed attempts in a row after which a sink's waiting alerts are given
  // up: handed to dead_letter (if set) and dropped, so that a receiver
  // that stays down neither grows the queue nor gets a stale backlog when
  // it returns. Later alerts are tried as usual. Default: 10 (about five
  // minutes with the default backoff).
  int max_attempts = 10;
  // Where given-up alerts go (a record an operator can replay); called on
  // the dispatcher's thread with the sink's name and the last error.
  std::function<void(const std::string& sink,
                     absl::Span<const vigie::v1::Alert> alerts,
                     const absl::Status& error)>
      dead_letter;
};

// Delivers alert notifications to the sinks from a thread of its own, so
// that the pipeline never waits on a receiver. Per sink, the latest state of
// each alert not yet delivered is kept and sent in one call: transitions
// (firing, a new severity, resolved) at once, and every firing alert again
// each resend_interval. A failed delivery is tried again after a backoff,
// with the alerts' states by then, and given up (dead-lettered) after
// max_attempts in a row; a sink that stays down delays only itself. Pending
// alerts never notify (PENDING, INACTIVE). Thread-safe.
class AlertDispatcher {
 public:
  explicit AlertDispatcher(std::vector<std::unique_ptr<AlertSink>> sinks,
                           DispatcherOptions options = {});
  // Stops the thread after a last attempt at what is due.
  ~AlertDispatcher();
  AlertDispatcher(const AlertDispatcher&) = delete;
  AlertDispatcher& operator=(const AlertDispatcher&) = delete;

  // The latest state of `alert`; `transition` as rules::AlertChange's. Never
  // blocks on a sink.
  void Update(const vigie::v1::Alert& alert, bool transition)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Stops notifying the firing alert `fingerprint` (a silence now mutes
  // it): it is no longer resent, and a state of it not yet delivered is
  // dropped. Its next Update notifies as usual.
  void Withdraw(const std::string& fingerprint) ABSL_LOCKS_EXCLUDED(mu_);

  struct SinkStats {
    std::string name;
    uint64_t deliveries = 0;       // Successful calls.
    uint64_t alerts_sent = 0;      // Alerts in them.
    uint64_t failed_attempts = 0;  // Failed calls.
    uint64_t dead_lettered = 0;    // Alerts given up.
    std::string last_error;        // Of the last failed call.
    size_t waiting = 0;            // Alerts not yet delivered.
  };
  std::vector<SinkStats> Stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Sink {
    std::unique_ptr<AlertSink> sink;
    // By fingerprint: the state to send, and its version.
    std::map<std::string, std::pair<vigie::v1::Alert, uint64_t>> waiting;
    absl::Time next_try = absl::InfinitePast();
    absl::Duration backoff;
    int failures_in_a_row = 0;
    SinkStats stats;
  };

  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // The sinks due now, and when the next one is; adds the resends if due.
  bool Due(absl::Time now, std::vector<size_t>* due, absl::Time* next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Deliver(size_t index) ABSL_LOCKS_EXCLUDED(mu_);

  const DispatcherOptions options_;
  mutable absl::Mutex mu_;
  std::vector<Sink> sinks_ ABSL_GUARDED_BY(mu_);
  // Latest state of every firing alert, for the resends.
  std::map<std::string, vigie::v1::Alert> firing_ ABSL_GUARDED_BY(mu_);
  absl::Time next_resend_ ABSL_GUARDED_BY(mu_);
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar wake_;
  std::thread thread_;
};

}  // namespace vigie::sinks
